"""What makes a MARC record acceptable, and the repairs that are safe to make.

The rules are MARC21slim's own patterns: a record we accept is a record whose
marc21 rendering validates, so a partner's harvest never meets an invalid one.
Repairs are limited to what the standard fixes anyway (leader lengths, the
encoding flag once text is Unicode), to removing characters XML cannot carry, and
to one guess legacy files force on us: a blank leader/06 (type of record, which
MARC21slim requires) becomes 'a', language material, the type of most such files.
"""

from __future__ import annotations

import re
import string

from pymarc import Leader, Record, Subfield

from .xmltext import has_illegal, strip_illegal

_LEADER = re.compile(
    r"[0-9 ]{5}[0-9A-Za-z ][0-9A-Za-z][0-9A-Za-z ]{3}(2| )(2| )[0-9 ]{5}[0-9A-Za-z ]{3}(4500|    )"
)
_CONTROL_TAG = re.compile(r"00[1-9A-Za-z]")
_DATA_TAG = re.compile(
    r"(0([1-9A-Z][0-9A-Z])|0([1-9a-z][0-9a-z]))|(([1-9A-Z][0-9A-Z]{2})|([1-9a-z][0-9a-z]{2}))"
)
# Sets, not `\d` patterns: Python's \d also matches Arabic-Indic and other digits,
# which MARC21slim's XSD patterns do not allow.
_INDICATORS = frozenset(string.digits + string.ascii_lowercase + " ")
_CODES = frozenset(string.digits + string.ascii_letters + "!\"#$%&'()*+,-./:;<=>?{}_^`~[]\\")


class RecordRejected(ValueError):
    """The record cannot be imported; the message says why, for the import summary."""


def normalize_leader(raw: str | None) -> Leader:
    """The leader as stored: lengths zeroed, 22/4500 fixed, leader/09 = 'a' (Unicode)."""
    if raw is None:
        raise RecordRejected("no leader")
    if len(raw) != 24:
        raise RecordRejected(f"leader is {len(raw)} characters long, not 24")
    record_type = raw[6] if raw[6] != " " else "a"
    fixed = "00000" + raw[5] + record_type + raw[7:9] + "a22" + "00000" + raw[17:20] + "4500"
    if not _LEADER.fullmatch(fixed):
        raise RecordRejected(f"leader {raw!r} has characters MARC 21 does not allow")
    return Leader(fixed)


def checked(record: Record, raw_leader: str | None) -> Record:
    """`record` itself, cleaned in place, or RecordRejected naming the first problem."""
    record.leader = normalize_leader(raw_leader)
    for field in record.fields:
        tag = field.tag
        if field.is_control_field():
            if not _CONTROL_TAG.fullmatch(tag):
                raise RecordRejected(f"control field tag {tag!r} is not valid")
            field.data = strip_illegal(field.data or "")
            continue
        if not _DATA_TAG.fullmatch(tag):
            raise RecordRejected(f"field tag {tag!r} is not a three-character MARC tag")
        for position, indicator in enumerate(field.indicators, start=1):
            if indicator not in _INDICATORS:
                raise RecordRejected(
                    f"field {tag}: indicator {position} {indicator!r} is not valid"
                )
        if not field.subfields:
            raise RecordRejected(f"field {tag} has no subfields")
        for subfield in field.subfields:
            if subfield.code not in _CODES:
                raise RecordRejected(f"field {tag}: subfield code {subfield.code!r} is not valid")
        if has_illegal("".join(s.value for s in field.subfields)):
            field.subfields = [Subfield(s.code, strip_illegal(s.value)) for s in field.subfields]
    return record
