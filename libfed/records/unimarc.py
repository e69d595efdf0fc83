"""UNIMARC and RUSMARC bibliographic records converted to MARC 21, field by field.

This server stores, renders and searches MARC 21; catalogues in Russia, Belarus and
much of the region (IRBIS-based ones above all) speak RUSMARC, the Russian profile of
IFLA's UNIMARC, and French and Italian ones UNIMARC. The two keep ISO 2709's structure
but give fields other meanings (title 200, publication 210, authors 700/701), so each
record is converted here following the Library of Congress's UNIMARC to MARC 21
conversion specifications (loc.gov/marc/unimarctomarc21.html), kept as tables below:
the specification is the maintained mapping; no stylesheet implementing it came with a
licence this project could ship. docs/formats.md lists what is mapped and what is not.

What MARC 21 has no place for (local 9XX fields, most coded data of 1XX) is left out of
the MARC 21 record only: the original is kept beside it (libfed.records.formats.unimarc).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pymarc import Field, Indicators, Leader, Record, Subfield

from .identifiers import local_part

UNIMARC = "unimarc"
RUSMARC = "rusmarc"
FLAVOURS = (UNIMARC, RUSMARC)

# Non-sorting marks around an article ("NSB The NSE Times"): ISO 6630's and the C1
# controls UNIMARC records use for them. Removed; the length before NSE gives 245 ind2.
_NSB = "\x88\x98"
_NSE = "\x89\x9c"
_NON_SORTING = str.maketrans("", "", _NSB + _NSE)


# --- the leader -----------------------------------------------------------------------

# 06 type of record: UNIMARC -> MARC 21 (b manuscript text, l electronic resource and
# m multimedia are the codes that differ).
_RECORD_TYPE = {"b": "t", "l": "m", "m": "o"}
# 17 encoding level: blank full, 1 sublevel 1, 2 prepublication, 3 sublevel 3.
_ENCODING_LEVEL = {" ": " ", "1": "1", "2": "8", "3": "7"}


def convert_leader(raw: str | None) -> str:
    """The MARC 21 leader of a UNIMARC one (lengths are set when the record is checked).

    UNIMARC omits ISBD punctuation between subfields, so 18 says 'c' (omitted).
    """
    leader = (raw or "").ljust(24)[:24]
    status = leader[5] if leader[5] in "acdnp" else "n"
    record_type = _RECORD_TYPE.get(leader[6], leader[6] if leader[6].isalpha() else "a")
    level = leader[7] if leader[7] in "abcdims" else "m"
    encoding = _ENCODING_LEVEL.get(leader[17], " ")
    return f"00000{status}{record_type}{level} a2200000{encoding}c 4500"


# --- 100, 101, 102: the coded data of 008 -----------------------------------------------

# 100 $a/8 type of publication date -> 008/06.
_DATE_TYPE = {
    "a": "c",  # serial currently published
    "b": "d",  # serial ceased
    "c": "u",  # serial of unknown status
    "d": "s",  # monograph complete when issued, one date
    "e": "r",  # reproduction
    "f": "q",  # date uncertain
    "g": "m",  # over more than a year
    "h": "t",  # with a copyright date
    "i": "p",  # production and release
    "j": "e",  # detailed date
    "k": "s",
    "u": "n",
}
# ISO 3166 (102 $a) -> the MARC Code List for Countries (008/15-17, 044 $a): the region
# this server's partners are in, and the countries most catalogues name.
_COUNTRY = {
    "AM": "ai", "AR": "ag", "AT": "au", "AU": "at", "AZ": "aj", "BE": "be", "BG": "bu",
    "BR": "bl", "BY": "bw", "CA": "xxc", "CH": "sz", "CN": "cc", "CZ": "xr", "DE": "gw",
    "DK": "dk", "EE": "er", "EG": "ua", "ES": "sp", "FI": "fi", "FR": "fr", "GB": "xxk",
    "GE": "gs", "GR": "gr", "HR": "ci", "HU": "hu", "IE": "ie", "IL": "is", "IN": "ii",
    "IR": "ir", "IT": "it", "JP": "ja", "KG": "kg", "KR": "ko", "KZ": "kz", "LT": "li",
    "LU": "lu", "LV": "lv", "MD": "mv", "MX": "mx", "NL": "ne", "NO": "no", "PL": "pl",
    "PT": "po", "RO": "rm", "RS": "rb", "RU": "ru", "SE": "sw", "SI": "xv", "SK": "xo",
    "TJ": "ta", "TM": "tk", "TR": "tu", "UA": "un", "US": "xxu", "UZ": "uz",
}  # fmt: skip


def coded_data(record: Record) -> str:
    """100 $a, the 36 characters of general processing data, blank-padded."""
    general = record.get("100")
    return ((general.get("a") if general else None) or "").ljust(36)[:36]


def _field_008(record: Record, country: str, language: str) -> str:
    data = coded_data(record)
    entered = data[2:8] if data[:8].isdigit() else "      "
    date_type = _DATE_TYPE.get(data[8], "|")
    first = data[9:13].replace(" ", "u") if data[9:13].strip() else "    "
    second = data[13:17] if data[13:17].strip() else "    "
    # 18-34 (material-specific) unknown: blanks, as MARC 21 allows for "no attempt to code".
    return f"{entered}{date_type}{first}{second}{country:<3.3}{' ' * 17}{language:<3.3} d"


def _language_and_country(record: Record) -> tuple[list[Field], str, str]:
    """041 and 044 from 101 and 102, with the codes 008 takes from them."""
    fields: list[Field] = []
    language = "   "
    for languages in record.get_fields("101"):
        codes = [(c, v.strip()) for c, v in languages.subfields if c in "abcdefghij" and v.strip()]
        text = [v for c, v in codes if c == "a"]
        if text and language == "   ":
            language = text[0][:3].lower()
        # 101 $c is the original's language: 041 $h, ind1 1 "is or includes a translation".
        mapped = [Subfield("h" if c == "c" else c, v.lower()) for c, v in codes if c in "abcdefgh"]
        if len(mapped) > 1 or (mapped and languages.indicator1 == "1"):
            fields.append(
                Field("041", Indicators("1" if languages.indicator1 == "1" else "0", " "), mapped)
            )
    country = "xx "
    for place in record.get_fields("102"):
        codes = [v.strip().upper() for c, v in place.subfields if c == "a" and v.strip()]
        if not codes:
            continue
        if country == "xx ":
            country = _COUNTRY.get(codes[0], "xx ")
        marc = [Subfield("a", _COUNTRY[c]) for c in codes if c in _COUNTRY]
        fields.append(Field("044", Indicators(" ", " "), marc + [Subfield("c", c) for c in codes]))
    return fields, country, language


# --- names ------------------------------------------------------------------------------

# UNIMARC relator codes (numeric) -> MARC relator codes: only the ones with one meaning.
_RELATOR = {
    "010": "adp", "020": "ann", "030": "arr", "040": "art", "070": "aut", "072": "aqt",
    "080": "aui", "100": "ant", "180": "ctg", "205": "ctb", "220": "com", "230": "cmp",
    "250": "cnd", "295": "dgg", "340": "edt", "440": "ill", "570": "oth", "590": "prf",
    "600": "pht", "650": "pbl", "651": "pbd", "673": "rth", "677": "rtm", "700": "scr",
    "710": "red", "727": "ths", "730": "trl", "770": "wam",
}  # fmt: skip
# UNIMARC $j form, $x topical, $y geographical, $z chronological subdivisions ->
# MARC 21 $v, $x, $z, $y.
_SUBDIVISIONS = {"j": "v", "x": "x", "y": "z", "z": "y", "2": "2", "3": "0"}


def _personal_name(source: Field) -> list[Subfield]:
    """$a "Surname, Forenames" and the rest of a UNIMARC personal name (600, 700-702)."""
    entry = source.get("a") or ""
    rest = source.get("b") or source.get("g") or ""  # RUSMARC gives initials in $b, full in $g
    out = [Subfield("a", f"{entry}, {rest}" if entry and rest else entry or rest)]
    for code, value in source.subfields:
        if code == "d":
            out.append(Subfield("b", value))
        elif code == "c":
            out.append(Subfield("c", value))
        elif code == "f":
            out.append(Subfield("d", value))
        elif code == "g" and source.get("b"):  # MARC 21 writes a fuller form in brackets
            out.append(Subfield("q", value if value.startswith("(") else f"({value})"))
        elif code == "p":
            out.append(Subfield("u", value))
    return out


def _corporate_name(source: Field) -> list[Subfield]:
    """A UNIMARC corporate or meeting name (601, 710-712): $c additions stay with the
    name they qualify, $d/$e/$f become the meeting's number, place and date."""
    out: list[Subfield] = []
    for code, value in source.subfields:
        if code in "ab":
            out.append(Subfield(code if out else "a", value))
        elif code == "c" and out:
            out[-1] = Subfield(out[-1].code, f"{out[-1].value} {value}")
        elif code in "def":
            out.append(Subfield({"d": "n", "e": "c", "f": "d"}[code], value))
    return out


def _relators(source: Field) -> list[Subfield]:
    return [Subfield("4", _RELATOR[v]) for c, v in source.subfields if c == "4" and v in _RELATOR]


def _names(record: Record) -> Iterator[Field]:
    """1XX and 7XX: 700/710/720 are the main entry, the others added entries."""
    for tag in ("700", "701", "702", "710", "711", "712", "720", "721", "722"):
        for source in record.get_fields(tag):
            main = tag in ("700", "710", "720")
            if tag.startswith("70"):
                subfields = _personal_name(source)
                marc, ind1 = ("100" if main else "700"), ("0" if source.indicator2 == "0" else "1")
            elif tag.startswith("71"):
                subfields = _corporate_name(source)
                meeting = source.indicator1 == "1"
                marc = ("111" if meeting else "110") if main else ("711" if meeting else "710")
                ind1 = "2"
            else:
                subfields = [Subfield("a", source.get("a") or "")]
                marc, ind1 = ("100" if main else "700"), "3"
            yield Field(marc, Indicators(ind1, " "), subfields + _relators(source))


def _subject(tag: str, ind1: str, source: Field, head: list[Subfield]) -> Field:
    subdivisions = [
        Subfield(_SUBDIVISIONS[c], v) for c, v in source.subfields if c in _SUBDIVISIONS
    ]
    system = any(s.code == "2" for s in subdivisions)
    return Field(tag, Indicators(ind1, "7" if system else "4"), head + subdivisions)


def _subjects(record: Record) -> Iterator[Field]:
    for source in record.get_fields("600", "601", "602", "605", "606", "607", "608", "610"):
        tag = source.tag
        if tag == "600":
            ind1 = "0" if source.indicator2 == "0" else "1"
            yield _subject("600", ind1, source, _personal_name(source))
        elif tag == "601":
            meeting = source.indicator1 == "1"
            yield _subject("611" if meeting else "610", "2", source, _corporate_name(source))
        elif tag == "602":
            yield _subject("600", "3", source, [Subfield("a", source.get("a") or "")])
        elif tag == "610":  # uncontrolled terms: each $a one term
            terms = [Subfield("a", v) for c, v in source.subfields if c == "a"]
            yield Field("653", Indicators(" ", " "), terms)
        else:
            marc = {"605": "630", "606": "650", "607": "651", "608": "655"}[tag]
            yield _subject(
                marc, "0" if marc == "630" else " ", source, [Subfield("a", source.get("a") or "")]
            )


# --- descriptive fields -------------------------------------------------------------------


def _title(record: Record, has_main_entry: bool) -> Iterator[Field]:
    """245 from the first 200: $a (further $a and $c joined to it), $e $d as $b, $h $n,
    $i $p, $f $g as $c, $b (general material designation) as $h; ind2 from NSB/NSE."""
    source = record.get("200")
    if source is None:
        return
    titles, remainder, responsibility, out = [], [], [], []
    skip = 0
    for code, value in source.subfields:
        if code == "a" and not titles:
            if value[:1] and value[0] in _NSB:  # "NSB The NSE Times": skip "The "
                skip = next((i for i, c in enumerate(value) if c in _NSE), 1) - 1
            titles.append(value.translate(_NON_SORTING))
        elif code in "ac":
            titles.append(value.translate(_NON_SORTING))
        elif code in "de":
            remainder.append(("= " if code == "d" else "") + value)
        elif code in "fg":
            responsibility.append(value)
        elif code in "hi":
            out.append(Subfield("n" if code == "h" else "p", value))
        elif code == "b":
            out.append(Subfield("h", value))
    head = [Subfield("a", " ; ".join(t for t in titles if t))] if titles else []
    if remainder:
        head.append(Subfield("b", " : ".join(remainder)))
    tail = [Subfield("c", " ; ".join(responsibility))] if responsibility else []
    ind2 = str(skip) if 0 < skip < 10 else "0"
    yield Field("245", Indicators("1" if has_main_entry else "0", ind2), head + out + tail)


def _edition(source: Field) -> Field:
    statement = ", ".join(v for c, v in source.subfields if c in "ab")
    responsibility = " ; ".join(v for c, v in source.subfields if c in "fg")
    subfields = [Subfield("a", statement)] + (
        [Subfield("b", responsibility)] if responsibility else []
    )
    return Field("250", Indicators(" ", " "), subfields)


def _publication(source: Field) -> Field:
    """210 -> 260; 214 (UNIMARC's newer field, its ind2 the function) -> 264."""
    codes = {"a": "a", "c": "b", "d": "c", "e": "e", "g": "f", "h": "g"}
    if source.tag == "214":
        codes = {"a": "a", "c": "b", "d": "c"}
        indicators = Indicators(" ", source.indicator2 if source.indicator2 in "01234" else "1")
        return Field("264", indicators, _mapped(source, codes))
    return Field("260", Indicators(" ", " "), _mapped(source, codes))


def _series(source: Field) -> Field:
    title = " : ".join(v for c, v in source.subfields if c in "ae")
    parts = [Subfield("a", title), *_mapped(source, {"x": "x", "v": "v"})]
    return Field("490", Indicators("0", " "), parts)


# Linking entries (4XX) -> MARC 21 76X-78X: (tag, ind2).
_LINKS = {
    "410": ("830", " "), "411": ("830", " "), "421": ("770", " "), "422": ("772", " "),
    "423": ("777", " "), "430": ("780", "0"), "431": ("780", "1"), "432": ("780", "2"),
    "433": ("780", "3"), "434": ("780", "4"), "435": ("780", "5"), "436": ("780", "6"),
    "437": ("780", "7"), "440": ("785", "0"), "441": ("785", "1"), "442": ("785", "2"),
    "443": ("785", "3"), "444": ("785", "4"), "445": ("785", "5"), "446": ("785", "6"),
    "447": ("785", "7"), "448": ("785", "8"), "451": ("775", " "), "452": ("776", " "),
    "453": ("767", " "), "454": ("765", " "), "461": ("773", " "), "462": ("774", " "),
    "463": ("773", " "), "464": ("774", " "), "488": ("787", " "),
}  # fmt: skip
# A linking field's own subfields, and those of the fields embedded in it ($1 + tag).
_LINK_CODES = {"a": "a", "t": "t", "x": "x", "y": "z", "v": "g", "d": "d", "e": "b", "0": "w"}
_EMBEDDED = {
    "200a": "t", "700a": "a", "710a": "a", "011a": "x", "010a": "z", "210d": "d",
    "205a": "b", "200v": "g", "225v": "g",
}  # fmt: skip


def _link(source: Field) -> Field | None:
    tag, ind2 = _LINKS[source.tag]
    out: list[Subfield] = []
    embedded = ""
    for code, value in source.subfields:
        if code == "1":
            embedded = value[:3]
            if embedded == "001" and value[3:]:  # an embedded control field: data follows
                out.append(Subfield("w", value[3:]))
            continue
        marc = _EMBEDDED.get(embedded + code) if embedded else _LINK_CODES.get(code)
        if marc:
            out.append(Subfield(marc, value))
    if tag == "830":  # the series' title is 830's $a
        out = [Subfield("a" if s.code == "t" else s.code, s.value) for s in out if s.code in "tvxg"]
        out = [Subfield("v" if s.code == "g" else s.code, s.value) for s in out]
        return Field(tag, Indicators(" ", "0"), out) if any(s.code == "a" for s in out) else None
    return Field(tag, Indicators("0", ind2), out) if out else None


def _mapped(source: Field, codes: dict[str, str]) -> list[Subfield]:
    return [Subfield(codes[c], v) for c, v in source.subfields if c in codes]


@dataclass(frozen=True)
class _Rule:
    """A field mapped subfield by subfield: UNIMARC codes -> MARC 21 codes (others go)."""

    tag: str
    codes: dict[str, str]
    indicators: str = "  "


_A = {"a": "a"}
# Fields that map one to one.
_RULES: dict[str, _Rule] = {
    "010": _Rule("020", {"a": "a", "b": "q", "d": "c", "z": "z"}),
    "011": _Rule("022", {"a": "a", "y": "z", "z": "y", "f": "l"}),
    "013": _Rule("024", {"a": "a", "z": "z"}, "2 "),
    "016": _Rule("024", {"a": "a", "z": "z"}, "0 "),
    "035": _Rule("035", {"a": "a", "z": "z"}),
    "206": _Rule("255", {"a": "a", "b": "a"}),
    "207": _Rule("362", _A, "0 "),
    "230": _Rule("256", _A),
    "300": _Rule("500", _A),
    "303": _Rule("500", _A),
    "320": _Rule("504", _A),
    "326": _Rule("310", {"a": "a", "b": "b"}),
    "327": _Rule("505", _A, "0 "),
    "328": _Rule("502", _A),
    "330": _Rule("520", _A),
    "333": _Rule("521", _A),
    "336": _Rule("516", _A),
    "337": _Rule("538", _A),
    "500": _Rule("240", {"a": "a", "h": "n", "i": "p", "k": "f", "m": "l"}, "10"),
    "510": _Rule("246", {"a": "a", "e": "b", "h": "n", "i": "p"}, "31"),
    "512": _Rule("246", {"a": "a", "e": "b"}, "14"),
    "513": _Rule("246", {"a": "a", "e": "b"}, "15"),
    "514": _Rule("246", {"a": "a", "e": "b"}, "16"),
    "515": _Rule("246", _A, "17"),
    "516": _Rule("246", {"a": "a", "e": "b"}, "18"),
    "517": _Rule("246", {"a": "a", "e": "b"}, "3 "),
    "518": _Rule("246", _A, "3 "),
    "520": _Rule("247", {"a": "a", "e": "b", "h": "n", "i": "p", "j": "f", "x": "x"}, "10"),
    "530": _Rule("222", {"a": "a", "b": "b"}, " 0"),
    "531": _Rule("210", {"a": "a", "b": "b"}, "0 "),
    "532": _Rule("246", _A, "3 "),
    "540": _Rule("246", _A, "3 "),
    "541": _Rule("242", {"a": "a", "e": "b", "h": "n", "i": "p", "z": "y"}, "00"),
    "675": _Rule("080", {"a": "a", "v": "2"}),
    "676": _Rule("082", {"a": "a", "v": "2"}, "0 "),
    "680": _Rule("050", {"a": "a", "b": "b"}),
    "686": _Rule("084", {"a": "a", "2": "2"}),
    "856": _Rule("856", {c: c for c in "abcdfhijklmnopqrstuvwxyz23"}),
}
_NOTES = {f"3{n:02d}" for n in range(100)} - set(_RULES) - {"371"}  # other notes: 500


def _access(source: Field) -> Field:
    """371: ind1 0 access (506), 1 use and reproduction (540)."""
    return Field(
        "540" if source.indicator1 == "1" else "506", Indicators(" ", " "), _mapped(source, _A)
    )


def _indicators(rule: _Rule, source: Field) -> Indicators:
    if rule.tag == "856":
        return Indicators(source.indicator1, source.indicator2)
    return Indicators(rule.indicators[0], rule.indicators[1])


# --- cataloguing source and holdings --------------------------------------------------------


def _cataloguing_source(record: Record) -> Iterator[Field]:
    """040 from 801: ind2 0 the original agency ($a), 1 transcribing ($c), 2 modifying ($d)."""
    out: list[Subfield] = []
    for source in record.get_fields("801"):
        agency = source.get("b")
        code = {"0": "a", "1": "c", "2": "d"}.get(source.indicator2)
        if agency and code and not (code in "ac" and any(s.code == code for s in out)):
            out.append(Subfield(code, agency))
    if out:
        language = coded_data(record)[22:25].strip().lower()
        if language:
            out.insert(1, Subfield("b", language))
        out.sort(key=lambda s: "abcde".index(s.code))
        yield Field("040", Indicators(" ", " "), out)


# Holdings -> MARC 21 852: UNIMARC's own 852, Koha's 995 items, RUSMARC's 899 location.
_HOLDINGS = {
    "852": {"a": "a", "b": "b", "c": "e", "g": "k", "j": "h", "k": "i", "l": "m", "z": "z"},
    "995": {"b": "a", "c": "b", "e": "c", "k": "h", "f": "p"},
    "899": {"a": "a", "b": "b", "j": "h", "p": "p"},
}

_HOLDING_ORDER = "abcehikmpz"  # the order of 852's subfields


def _holdings(record: Record, flavour: str) -> Iterator[Field]:
    """One 852 per distinct location and call number: 995 repeats per copy."""
    seen: set[tuple] = set()
    tags = ("852", "995", "899") if flavour == RUSMARC else ("852", "995")
    for source in record.get_fields(*tags):
        mapping = _HOLDINGS[source.tag]
        subfields = sorted(_mapped(source, mapping), key=lambda s: _HOLDING_ORDER.index(s.code))
        key = tuple(subfields)
        if subfields and key not in seen:
            seen.add(key)
            yield Field("852", Indicators(" ", " "), subfields)


# --- the whole record ------------------------------------------------------------------------


def _clean(fields: Iterable[Field | None]) -> Iterator[Field]:
    """Fields without non-sorting marks and empty subfields, and without fields left empty."""
    for converted in fields:
        if converted is None:
            continue
        values = ((s.code, s.value.translate(_NON_SORTING).strip()) for s in converted.subfields)
        converted.subfields = [Subfield(code, value) for code, value in values if value]
        if converted.subfields:
            yield converted


def _mapped_fields(record: Record, flavour: str) -> Iterator[Field | None]:
    for source in record.fields:
        tag = source.tag
        if source.is_control_field():
            continue
        if tag in _RULES:
            rule = _RULES[tag]
            yield Field(rule.tag, _indicators(rule, source), _mapped(source, rule.codes))
        elif tag in _NOTES:
            yield Field("500", Indicators(" ", " "), _mapped(source, _A))
        elif tag == "371":
            yield _access(source)
        elif tag == "205":
            yield _edition(source)
        elif tag in ("210", "214"):
            yield _publication(source)
        elif tag == "215":
            yield Field(
                "300",
                Indicators(" ", " "),
                _mapped(source, {"a": "a", "c": "b", "d": "c", "e": "e"}),
            )
        elif tag == "225":
            yield _series(source)
        elif tag in _LINKS:
            yield _link(source)
        elif tag == "003":
            yield Field("024", Indicators("7", " "), [*_mapped(source, _A), Subfield("2", "uri")])


def to_marc21(source: Record, raw_leader: str | None, flavour: str = UNIMARC) -> Record:
    """The MARC 21 record of a UNIMARC (or RUSMARC) one; `source` is not changed.

    A record without 001 gets the identifier the server derives for it as its 001 in
    both (see `give_control_number`), so the kept original names the record too.
    """
    record = Record(leader=Leader(convert_leader(raw_leader)), force_utf8=True)
    for control in ("001", "005"):
        if (value := source.get(control)) is not None and value.is_control_field():
            record.add_field(Field(control, data=value.data))
    language_fields, country, language = _language_and_country(source)
    record.add_field(Field("008", data=_field_008(source, country, language)))
    names = list(_clean(_names(source)))
    fields = [
        *_cataloguing_source(source),
        *language_fields,
        *_title(source, any(n.tag.startswith("1") for n in names)),
        *_mapped_fields(source, flavour),
        *names,
        *_subjects(source),
        *_holdings(source, flavour),
    ]
    # One main entry: the first; any further 1XX is an added entry.
    main = [n for n in names if n.tag.startswith("1")]
    for extra in main[1:]:
        extra.tag = "7" + extra.tag[1:]
    for converted in sorted(_clean(fields), key=lambda each: each.tag):
        record.add_field(converted)
    return record


def give_control_number(converted: Record, original: Record) -> None:
    """Set 001, when neither has one, to the identifier the server would derive from the
    converted record (libfed.records.identifiers), in both: the same record imported
    again derives the same one, and the kept original carries it too."""
    if converted.get("001") is not None:
        return
    number = local_part(converted)
    converted.add_ordered_field(Field("001", data=number))
    original.add_ordered_field(Field("001", data=number))
