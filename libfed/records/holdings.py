"""This library's holdings in its own MARC records: MARC 21 852 (Location) fields.

A union catalogue needs to know who holds a record and where its copies stand, which
FOLIO (marc21_withholdings) and Koha (include_items) put into the MARC record they
serve. Here the copies are what import saw in the source record: an 852 it already had,
or Koha's item fields (952). Each becomes an 852 by the MARC 21 Holdings definition:

  852 ind1 shelving scheme (from Koha's classification source, 952 $2)
      $a location: this library (libfed.records.site.Site.library: ISIL, else name)
      $b sublocation or collection (Koha's home branch 952 $a, else holding branch $b)
      $c shelving location (952 $c)
      $h classification part of the call number (952 $o)
      $p piece designation: the barcode (952 $p)
      $t copy number (952 $t)
      $z public note (952 $z)

Koha's 952 is removed once read: it is a local field (9XX) that every other system
reads as nothing or as something else, and serving it beside the 852 would say the same
copies twice. Copies Koha marks withdrawn (952 $0) or lost (952 $1) are no holdings. The
nonpublic note (952 $x) and Koha's own codes (item type $y, collection $8) are left out:
852 has no place for them, or they are not for the public.

An 852 the source had keeps what it says, with this library as its $a: the record is
imported as ours. Applying this to a record it has already been applied to changes
nothing, so `libfed db rerender` applies it to every stored local record (bringing
records imported before, which still hold their 952, up to date, and a changed ISIL
into every 852). Harvested records are a partner's: their 852s stay as sent, and this
is never applied to them.
"""

from __future__ import annotations

from pymarc import Field, Record, Subfield

LOCATION = "852"
KOHA_ITEMS = "952"
# Koha's classification sources (952 $2, cn_source) -> 852 first indicator.
_SHELVING_SCHEMES = {"lcc": "0", "ddc": "1", "nlm": "2", "sudocs": "3"}
# 952 subfield -> 852 subfield, in the order written (852 $a and $b are set apart).
_COPIED = (("c", "c"), ("o", "h"), ("p", "p"), ("t", "t"), ("z", "z"))
_GONE = ("0", "1")  # withdrawn, lost: anything but empty or 0 means the copy is gone


def _value(field: Field, code: str) -> str:
    return next((v.strip() for c, v in field.subfields if c == code and v and v.strip()), "")


def _from_koha(item: Field, library: str) -> Field | None:
    """The 852 of one Koha item; None for a copy withdrawn or lost."""
    if any(_value(item, code) not in ("", "0") for code in _GONE):
        return None
    subfields = [Subfield("a", library)]
    branch = _value(item, "a") or _value(item, "b")
    if branch:
        subfields.append(Subfield("b", branch))
    subfields += [Subfield(to, _value(item, code)) for code, to in _COPIED if _value(item, code)]
    source = _value(item, "2").lower()
    scheme = _SHELVING_SCHEMES.get(source, "8" if source else " ")
    return Field(tag=LOCATION, indicators=[scheme, " "], subfields=subfields)


def _ours(location: Field, library: str) -> Field:
    """A source's 852 with this library as its location ($a)."""
    rest = [s for s in location.subfields if s.code != "a"]
    return Field(
        tag=LOCATION,
        indicators=list(location.indicators or [" ", " "]),
        subfields=[Subfield("a", library), *rest],
    )


def with_holdings(record: Record, library: str) -> Record:
    """`record` (changed in place, and returned) with its copies as 852s of `library`."""
    items = record.get_fields(KOHA_ITEMS)
    existing = record.get_fields(LOCATION)
    if not items and all(field.get("a") == library for field in existing):
        return record  # nothing to change: the common case, and every rerender's
    made = [_ours(field, library) for field in existing]
    made += [field for item in items if (field := _from_koha(item, library)) is not None]
    record.remove_fields(LOCATION, KOHA_ITEMS)
    seen: set[tuple] = set()
    for field in made:
        key = (tuple(field.indicators), tuple(field.subfields))
        if key not in seen:
            seen.add(key)
            record.add_ordered_field(field)
    return record
