"""MARC -> oai_dc crosswalk, checked the way a harvester would see the output."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# libxml2 reads the catalog at its first catalog lookup, so this must happen before
# anything parses a schema, whichever module imported lxml first.
os.environ["XML_CATALOG_FILES"] = str(ROOT / "schemas" / "catalog.xml")

import pymarc  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree  # noqa: E402
from pymarc import Field, Indicators, Record, Subfield  # noqa: E402

from libfed.records.crosswalk import dc_elements, render_oai_dc  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "marcxml"
OAI_DC_XSD = ROOT / "schemas" / "openarchives.org" / "OAI" / "2.0" / "oai_dc.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"


def leader(type_of_record: str = "a", bib_level: str = "m") -> str:
    return f"00000n{type_of_record}{bib_level} a2200000 a 4500"


def record(*fields: Field, type_of_record: str = "a", bib_level: str = "m") -> Record:
    rec = Record(leader=leader(type_of_record, bib_level))
    rec.add_field(*fields)
    return rec


def datafield(tag: str, *subfields: tuple[str, str], ind1: str = " ", ind2: str = " ") -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(ind1, ind2),
        subfields=[Subfield(code=code, value=value) for code, value in subfields],
    )


def values(rec: Record, element: str) -> list[str]:
    return [value for name, value in dc_elements(rec) if name == element]


def parse(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode("utf-8"))


@pytest.fixture(scope="module")
def oai_dc_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OAI_DC_XSD)))


@pytest.fixture(scope="module")
def gwu() -> list[Record]:
    return pymarc.parse_xml_to_array(str(FIXTURES / "marc2bibframe2_gwu.xml"))


@pytest.fixture(scope="module")
def convspec_880() -> Record:
    (rec,) = pymarc.parse_xml_to_array(str(FIXTURES / "marc2bibframe2_ConvSpec-880.xml"))
    return rec


def test_title_joins_subfields_and_drops_trailing_isbd_punctuation() -> None:
    rec = record(
        datafield(
            "245",
            ("a", "The pragmatic programmer :"),
            ("b", "from journeyman to master /"),
            ("c", "Andrew Hunt, David Thomas."),
        ),
        datafield("246", ("a", "Pragmatic programmer."), ind1="3", ind2="0"),
    )
    assert values(rec, "title") == [
        "The pragmatic programmer : from journeyman to master",
        "Pragmatic programmer",
    ]


def test_main_entry_is_creator_and_added_entries_are_contributors() -> None:
    rec = record(
        datafield(
            "100",
            ("a", "Hunt, Andrew,"),
            ("d", "1964-"),
            ("e", "author."),
            ("0", "http://id.loc.gov/authorities/names/n99034462"),
        ),
        datafield("700", ("a", "Thomas, David,"), ("d", "1956-"), ("4", "aut"), ind1="1"),
        datafield("710", ("a", "Bournemouth Sinfonietta."), ("4", "prf"), ind1="2"),
        datafield("711", ("a", "Pragmatic Conference"), ("e", "Workshop"), ("j", "host.")),
    )
    assert values(rec, "creator") == ["Hunt, Andrew, 1964-"]
    assert values(rec, "contributor") == [
        "Thomas, David, 1956-",
        "Bournemouth Sinfonietta",
        # In meeting names $e is a subordinate unit; the relator is $j.
        "Pragmatic Conference Workshop",
    ]


def test_880_cyrillic_title_becomes_a_second_title() -> None:
    rec = record(
        datafield("100", ("6", "880-01"), ("a", "Tolstoĭ, Lev,"), ("d", "1828-1910."), ind1="1"),
        datafield("245", ("6", "880-02"), ("a", "Voĭna i mir /"), ("c", "L. Tolstoĭ."), ind1="1"),
        datafield("880", ("6", "100-01/(N"), ("a", "Толстой, Лев,"), ("d", "1828-1910."), ind1="1"),
        datafield(
            "880", ("6", "245-02/(N"), ("a", "Война и мир /"), ("c", "Л. Толстой."), ind1="1"
        ),
    )
    assert values(rec, "title") == ["Voĭna i mir", "Война и мир"]
    assert values(rec, "creator") == ["Tolstoĭ, Lev, 1828-1910", "Толстой, Лев, 1828-1910"]
    assert "880-02" not in render_oai_dc(rec)


def test_880_that_repeats_the_romanised_value_is_not_duplicated() -> None:
    rec = record(
        datafield("245", ("a", "Tokyo /")),
        datafield("880", ("6", "245-01/$1"), ("a", "Tokyo.")),
    )
    assert values(rec, "title") == ["Tokyo"]


def test_gwu_chinese_record_has_romanised_and_original_script_titles(gwu: list[Record]) -> None:
    rec = next(r for r in gwu if r["001"].data == "11865869")
    assert values(rec, "title") == [
        "Xin Zhongguo dui wai guan xi 60 nian : li lun yu shi jian",
        "新中国对外关系 60 年 : 理论与实践",
    ]
    assert values(rec, "publisher") == [
        "Shanghai : Shanghai ren min chu ban she",
        "上海 : 上海人民出版社",
    ]
    assert values(rec, "identifier") == ["URN:ISBN:9787208089587", "URN:ISBN:7208089582"]
    assert values(rec, "coverage") == ["China -- Foreign relations -- 1949- -- Congresses"]


def test_convspec_880_fields_map_like_the_tag_in_their_6(convspec_880: Record) -> None:
    assert values(convspec_880, "title") == ["東海道五十三次絵卷"]
    assert values(convspec_880, "publisher") == ["Лондон : Совет искусств Великобритании"]
    assert values(convspec_880, "date") == ["1981"]
    assert values(convspec_880, "rights") == [
        "Классифицированная информация.",
        "Литературные права Carrie Chapman Кэтт были посвящены общественности.",
    ]
    assert "Книги пеликан" in values(convspec_880, "relation")
    # "Третий проект /" is linked to 250 (edition statement), which the LoC crosswalk
    # does not map: it must not masquerade as a title.
    assert not any("Третий проект" in value for _, value in dc_elements(convspec_880))


def test_gwu_sound_recording_as_a_harvester_sees_it(gwu: list[Record]) -> None:
    boyce = next(r for r in gwu if r["001"].data == "7704213")
    elements = dc_elements(boyce)
    assert ("title", "The eight symphonies") in elements
    assert [v for e, v in elements if e == "creator"] == ["Boyce, William, 1711-1779"]
    assert [v for e, v in elements if e == "contributor"] == [
        "Thomas, Ronald",
        "Bournemouth Sinfonietta",
    ]
    assert ("publisher", "[S.l.] : CRD") in elements
    assert ("date", "[1979]") in elements
    assert [v for e, v in elements if e == "type"] == ["sound recording"]
    assert [v for e, v in elements if e == "language"] == ["eng"]


DC_ORDER = [
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
]


def test_elements_come_in_the_documented_order(gwu: list[Record]) -> None:
    for rec in gwu:
        names = [name for name, _ in dc_elements(rec)]
        assert names == sorted(names, key=DC_ORDER.index), rec["001"].data


@pytest.mark.parametrize(
    ("type_of_record", "bib_level", "expected"),
    [
        ("a", "m", ["text"]),
        ("t", "m", ["text", "manuscript"]),
        ("e", "m", ["cartographic"]),
        ("f", "m", ["cartographic", "manuscript"]),
        ("c", "m", ["notated music"]),
        ("d", "m", ["notated music", "manuscript"]),
        ("i", "m", ["sound recording"]),
        ("j", "m", ["sound recording"]),
        ("k", "m", ["still image"]),
        ("g", "m", ["moving image"]),
        ("r", "m", ["three dimensional object"]),
        ("m", "m", ["software, multimedia"]),
        ("p", "c", ["mixed material", "collection"]),
        ("a", "s", ["text"]),
        ("o", "m", []),
    ],
)
def test_type_follows_leader_06_and_07(
    type_of_record: str, bib_level: str, expected: list[str]
) -> None:
    rec = record(type_of_record=type_of_record, bib_level=bib_level)
    assert values(rec, "type") == expected


def test_genre_terms_follow_the_leader_type() -> None:
    rec = record(datafield("655", ("a", "Festschriften."), ind2="7"), type_of_record="a")
    assert values(rec, "type") == ["text", "Festschriften"]


def test_identifiers() -> None:
    rec = record(
        datafield("020", ("a", "0520213955 (alk. paper)"), ("z", "9999999999")),
        datafield("022", ("a", "0028-0836")),
        datafield("024", ("a", "075679214427"), ind1="1"),
        datafield("856", ("u", "https://example.org/item?a=1&b=2"), ("q", "text/html"), ind1="4"),
    )
    assert values(rec, "identifier") == [
        "URN:ISBN:0520213955",
        "URN:ISSN:0028-0836",
        "075679214427",
        "https://example.org/item?a=1&b=2",
    ]
    assert values(rec, "format") == ["text/html"]
    xml = render_oai_dc(rec)
    assert "<dc:identifier>https://example.org/item?a=1&amp;b=2</dc:identifier>" in xml


def fixed_008(language: str, date1: str = "1999") -> Field:
    return Field(tag="008", data=f"990101s{date1}    ru            000 0 {language} d")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("rus", ["rus"]), ("zxx", ["zxx"]), ("   ", []), ("|||", []), ("RUS", [])],
)
def test_language_from_008(language: str, expected: list[str]) -> None:
    assert values(record(fixed_008(language)), "language") == expected


def test_language_041_codes_are_split_and_deduplicated() -> None:
    rec = record(fixed_008("eng"), datafield("041", ("a", "engrus"), ("a", "fre"), ("h", "ger")))
    assert values(rec, "language") == ["eng", "rus", "fre"]


def test_date_prefers_imprint_then_other_264_then_008() -> None:
    assert values(record(fixed_008("eng"), datafield("260", ("c", "c1999."))), "date") == ["c1999"]
    copyright_only = record(fixed_008("eng"), datafield("264", ("c", "©2015"), ind2="4"))
    assert values(copyright_only, "date") == ["©2015"]
    assert values(record(fixed_008("eng", date1="19uu")), "date") == ["19uu"]
    assert values(record(fixed_008("eng", date1="    ")), "date") == []


def test_only_264_publication_statement_names_the_publisher() -> None:
    rec = record(
        datafield("264", ("a", "Seattle :"), ("b", "Iverson Company,"), ("c", "2016."), ind2="1"),
        datafield("264", ("a", "Portland :"), ("b", "Distributor Inc."), ind2="2"),
    )
    assert values(rec, "publisher") == ["Seattle : Iverson Company"]
    assert values(rec, "date") == ["2016"]


def test_subject_headings_show_subdivisions_and_classification() -> None:
    rec = record(
        datafield("050", ("a", "E457.5"), ("b", ".L56 2005"), ind1="0", ind2="0"),
        datafield(
            "600",
            ("a", "Lincoln, Abraham,"),
            ("d", "1809-1865"),
            ("x", "Assassination."),
            ("0", "http://id.loc.gov/authorities/names/n79006779"),
            ind1="1",
            ind2="0",
        ),
        datafield("650", ("a", "Symphonies."), ("v", "Scores."), ind2="0"),
        datafield("653", ("a", "peace"), ("a", "war")),
        datafield(
            "651",
            ("a", "United States"),
            ("x", "History"),
            ("y", "Civil War, 1861-1865."),
            ind2="0",
        ),
    )
    assert values(rec, "subject") == [
        "E457.5 .L56 2005",
        "Lincoln, Abraham, 1809-1865 -- Assassination",
        "Symphonies -- Scores",
        "peace",
        "war",
    ]
    assert values(rec, "coverage") == ["United States -- History -- Civil War, 1861-1865"]


def test_notes_rights_relations_and_sources() -> None:
    rec = record(
        datafield("500", ("a", "Compact disc.")),
        datafield("520", ("a", "A summary."), ("b", "Expanded summary.")),
        datafield("506", ("a", "Open access.")),
        datafield("530", ("a", "Also available online.")),
        datafield("534", ("p", "Originally published:"), ("t", "Three plays /")),
        datafield("540", ("a", "CC0.")),
        datafield("546", ("a", "In French.")),
        datafield("490", ("a", "Pelican books ;"), ("v", "A12"), ind1="0"),
        datafield("773", ("t", "Classical music library."), ("w", "(OCoLC)54104355"), ind1="0"),
        datafield("786", ("t", "Census data."), ind1="0"),
    )
    assert values(rec, "description") == ["Compact disc.", "A summary. Expanded summary."]
    assert values(rec, "rights") == ["Open access.", "CC0."]
    assert values(rec, "relation") == [
        "Also available online",
        "Pelican books ; A12",
        "Classical music library",
    ]
    assert values(rec, "source") == ["Three plays", "Census data"]


@pytest.mark.parametrize(
    ("title", "escaped"),
    [
        ("Anthems & motets /", "Anthems &amp; motets"),
        ("If x<y then y>x /", "If x&lt;y then y&gt;x"),
        ("<b>Bold</b> & more", "&lt;b&gt;Bold&lt;/b&gt; &amp; more"),
    ],
)
def test_markup_characters_are_escaped(title: str, escaped: str) -> None:
    xml = render_oai_dc(record(datafield("245", ("a", title))))
    assert f"<dc:title>{escaped}</dc:title>" in xml
    assert parse(xml).findtext(f"{{{DC_NS}}}title") == title.removesuffix(" /")


def test_record_without_fields_renders_an_empty_valid_element(
    oai_dc_schema: etree.XMLSchema,
) -> None:
    rec = Record()
    assert dc_elements(rec) == []
    root = parse(render_oai_dc(rec))
    assert root.tag == f"{{{OAI_DC_NS}}}dc"
    assert len(root) == 0
    oai_dc_schema.assertValid(root)


def test_fragment_declares_namespaces_and_schema_location() -> None:
    xml = render_oai_dc(record(datafield("245", ("a", "T"))))
    assert not xml.startswith("<?xml")
    root = parse(xml)
    assert root.nsmap == {
        "oai_dc": OAI_DC_NS,
        "dc": DC_NS,
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    }
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") == (
        f"{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    )


def test_every_gwu_record_renders_schema_valid_oai_dc(
    gwu: list[Record], oai_dc_schema: etree.XMLSchema
) -> None:
    assert len(gwu) == 99
    for rec in gwu:
        root = parse(render_oai_dc(rec))
        oai_dc_schema.assertValid(root)
        assert root.findtext(f"{{{DC_NS}}}title"), rec["001"].data


def test_incomplete_records_do_not_break_the_crosswalk(oai_dc_schema: etree.XMLSchema) -> None:
    rec = Record()
    rec.leader = "00000nam"  # pymarc lets a plain, short str stand in for the leader
    rec.add_field(
        Field(tag="001"),
        Field(tag="008"),
        Field(tag="008", data="9901"),
        Field(tag="245", indicators=Indicators("0", "0")),
        datafield("100", ("e", "author.")),
        datafield("880", ("a", "no linkage")),
        datafield("880", ("6", ""), ("a", "empty linkage")),
        datafield("880", ("6", "880-01"), ("a", "links to itself")),
        datafield("880", ("6", "008-01"), ("a", "links to a control field")),
        datafield("650", ("x", " / ")),
        datafield("020", ("a", "   ")),
    )
    assert dc_elements(rec) == [("type", "text")]
    oai_dc_schema.assertValid(parse(render_oai_dc(rec)))


# Half the values come from a small alphabet so that markup, ISBD punctuation and
# Unicode spaces show up often; the rest from all characters legal in XML 1.0.
XML_TEXT = st.one_of(
    st.text(alphabet="&<>/:;,.= -\t\nab\u00a0\u3000Жé東", max_size=12),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=12),
)
TAGS = st.one_of(
    st.sampled_from(["020", "022", "041", "100", "111", "245", "260", "264", "500", "520"]),
    st.sampled_from(["534", "600", "650", "651", "653", "662", "700", "773", "786", "856"]),
    st.sampled_from(["880", "880", "035", "999", "ABC"]),
)
DATAFIELDS = st.builds(
    lambda tag, ind2, subfields: Field(
        tag=tag,
        indicators=Indicators(" ", ind2),
        subfields=[Subfield(code=code, value=value) for code, value in subfields],
    ),
    TAGS,
    st.sampled_from(" 0124"),
    st.lists(
        st.tuples(
            st.sampled_from("aaaabcdeqtuvxz0468"),
            st.one_of(XML_TEXT, st.sampled_from(["245-01/(N", "100-02", "880-01", "6"])),
        ),
        max_size=5,
    ),
)
CONTROLFIELDS = st.builds(
    lambda data: Field(tag="008", data=data), st.one_of(st.none(), XML_TEXT, st.text(max_size=40))
)


@settings(deadline=None, max_examples=300)
@given(
    raw_leader=st.text(alphabet="acdefgijkmoprtsx 0|", max_size=30),
    fields=st.lists(st.one_of(DATAFIELDS, CONTROLFIELDS), max_size=8),
)
def test_any_record_renders_well_formed_xml_matching_dc_elements(
    raw_leader: str, fields: list[Field]
) -> None:
    rec = Record()
    rec.leader = raw_leader
    rec.add_field(*fields)
    elements = dc_elements(rec)
    assert len(set(elements)) == len(elements)
    assert all(value and value == value.strip() for _, value in elements)
    root = parse(render_oai_dc(rec))
    assert [(etree.QName(child).localname, child.text) for child in root] == elements
