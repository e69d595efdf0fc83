"""harvest.intake on records of any shape: what it lets through validates.

MARCXML that intake accepts is served in forms written by our own renderers (as local
records are), not validated again one by one; so any record, however odd its fields,
must come out valid in every format of the registry, or be refused with a reason.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault(
    "XML_CATALOG_FILES", str(Path(__file__).resolve().parent.parent / "schemas" / "catalog.xml")
)

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pymarc import Record
from test_crosswalk import CONTROLFIELDS, DATAFIELDS

from libfed.harvest.intake import Refused, checked_marcxml, checked_oai_dc, parse
from libfed.records.formats import FORMATS, MARC21, OAI_DC, rendered_formats
from libfed.records.marcxml import record_to_marcxml
from libfed.records.xml_schemas import schema_problem


@settings(deadline=None, max_examples=300)
@given(
    leader=st.text(alphabet="acdefgijkmoprtsx 0|4", min_size=24, max_size=24),
    fields=st.lists(st.one_of(DATAFIELDS, CONTROLFIELDS), max_size=10),
)
def test_any_marcxml_intake_accepts_is_served_valid(leader: str, fields: list) -> None:  # type: ignore[type-arg]
    record = Record()
    record.add_field(*fields)
    received = (
        record_to_marcxml(record)
        .replace("<leader></leader>", "")
        .replace("<leader>", "<leader>", 1)
    )
    received = received.replace(">", f"><leader>{leader}</leader>", 1)
    try:
        made = checked_marcxml(parse(received.encode()))
    except Refused as refusal:
        assert str(refusal)  # refused with a reason
        return
    # Every format of the registry stored (an alias is served from its format's), marc21
    # and oai_dc among them.
    stored = {f.prefix for f in rendered_formats()}
    assert {MARC21.prefix, OAI_DC.prefix} <= made.formats.keys() == stored
    for prefix, xml in made.formats.items():
        assert schema_problem(FORMATS[prefix], etree.fromstring(xml.encode())) is None
    # What intake writes, read again, is accepted unchanged: a re-check moves nothing.
    again = checked_marcxml(parse(made.formats[MARC21.prefix].encode()))
    assert again.formats == made.formats and not again.repairs


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=20)
ELEMENT = st.sampled_from(
    ["dc:title", "dc:creator", "dc:date", "dc:nonsense", "h:b", "h:script", "x"]
)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(ELEMENT, TEXT, st.booleans(), TEXT), max_size=8))
def test_any_oai_dc_is_repaired_into_a_valid_one_or_refused(parts: list) -> None:  # type: ignore[type-arg]
    body = "".join(
        f'<{name} xml:lang="{"az" if lang else "no such"}">{escape(text)}</{name}>{escape(tail)}'
        for name, text, lang, tail in parts
    )
    xml = (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:h="http://www.w3.org/1999/xhtml">'
        f"{body}</oai_dc:dc>"
    )
    made = checked_oai_dc(parse(xml.encode()))
    assert schema_problem(OAI_DC, etree.fromstring(made.xml.encode())) is None
    assert "script" not in made.xml or "h:script" not in made.xml
    again = checked_oai_dc(parse(made.xml.encode()))
    assert again.xml == made.xml and not again.repairs


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_text_that_python_strips_but_xml_keeps_is_removed_between_elements() -> None:
    """An NBSP or a line separator between elements: str.strip() calls it whitespace,
    XML Schema calls it text where oai_dc allows none."""
    xml = (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">\xa0<dc:title>Kitab</dc:title>\u2028'
        "</oai_dc:dc>"
    )
    made = checked_oai_dc(parse(xml.encode()))
    assert schema_problem(OAI_DC, etree.fromstring(made.xml.encode())) is None
    assert made.repairs == ("text outside the Dublin Core elements removed",)
