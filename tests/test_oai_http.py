"""The HTTP side: GET and POST alike, content type, compression, Identify, clean bytes,
and the browser's view (the XSLT every answer names, the policy that forbids script).

The compression and POST tests go through a real HTTP server (`live_server`) with
requests, as a harvester would; time is frozen so that two answers to the same
request are byte-identical.
"""

from __future__ import annotations

import gzip
import re
import types
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import itsdangerous.timed
import pytest
import requests
from conftest import CLOCK_START, OAI_NS, REPOSITORY_ID, Clock, load, parse_valid
from lxml import etree
from pymarc import Field, Indicators, Leader, Record, Subfield
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from libfed.oai.provider import Provider
from libfed.records.formats import FORMATS
from libfed.records.importer import import_files
from libfed.records.models import Record as RecordRow
from libfed.records.repository import NewRecord, store, tombstone

START = CLOCK_START
FORMAT = "%Y-%m-%dT%H:%M:%SZ"
OAI_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
NS = {
    **OAI_NS,
    "id": OAI_ID_NS,
    "dc": "http://purl.org/dc/elements/1.1/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "marc": "http://www.loc.gov/MARC21/slim",
}
# oai-identifier.xsd's pattern of sampleIdentifier, for this repository.
SAMPLE = re.compile("oai:" + re.escape(REPOSITORY_ID) + r":[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+")


@pytest.fixture
def clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The shared frozen clock, with the timestamps inside tokens frozen too."""
    frozen = clock
    signed_at = itsdangerous.timed.time.time()
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: signed_at))
    return frozen


@pytest.fixture
def loaded(db, clock):  # type: ignore[no-untyped-def]
    summary = load(db, "marcxml/marc2bibframe2_gwu.xml", sets={"gwu": "GWU"})
    assert summary.added == 99
    clock.advance(10)
    return db


def identity(url: str, method: str = "GET", **arguments: str) -> requests.Response:
    call = requests.post if method == "POST" else requests.get
    key = "data" if method == "POST" else "params"
    response = call(
        url,
        headers={"Accept-Encoding": "identity"},
        timeout=30,
        allow_redirects=False,
        **{key: arguments},
    )
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    return response


def first_token(body: bytes) -> str:
    token = etree.fromstring(body).find(".//oai:resumptionToken", OAI_NS)
    assert token is not None and token.text
    return token.text


# --- GET and POST ----------------------------------------------------------------------------


REQUESTS = [
    {"verb": "Identify"},
    {"verb": "ListMetadataFormats"},
    {"verb": "ListSets"},
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "gwu"},
    {"verb": "ListIdentifiers", "metadataPrefix": "marc21"},
    {"verb": "GetRecord", "identifier": f"oai:{REPOSITORY_ID}:7704213", "metadataPrefix": "marc21"},
    {"verb": "GetRecord", "identifier": 'invalid"id<&', "metadataPrefix": "oai_dc"},
    {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-13-01"},
    {"verb": "Nonsense"},
    {"verb": "ListRecords", "resumptionToken": "not-a-token"},
]


def test_post_answers_exactly_like_get(loaded, live_server, oai_schema) -> None:
    for arguments in REQUESTS:
        got = identity(live_server, "GET", **arguments)
        posted = identity(live_server, "POST", **arguments)
        assert posted.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert posted.content == got.content, arguments
        parse_valid(oai_schema, posted.content)
    # Resuming by POST a list begun by GET, and the other way round.
    begun = identity(live_server, "GET", verb="ListRecords", metadataPrefix="marc21")
    token = first_token(begun.content)
    by_post = identity(live_server, "POST", verb="ListRecords", resumptionToken=token)
    by_get = identity(live_server, "GET", verb="ListRecords", resumptionToken=token)
    assert by_post.content == by_get.content
    root = parse_valid(oai_schema, by_post.content)
    assert root.find(".//oai:resumptionToken", OAI_NS).get("cursor") == "10"


def test_post_body_differs_from_get_only_in_response_date(loaded, live_server, clock) -> None:
    got = identity(live_server, "GET", verb="ListIdentifiers", metadataPrefix="oai_dc")
    clock.advance(3)  # a later second; the harvest's upper bound moves with it
    posted = identity(live_server, "POST", verb="ListIdentifiers", metadataPrefix="oai_dc")
    date = re.compile(rb"<responseDate>[^<]*</responseDate>")
    expiry = re.compile(rb' expirationDate="[^"]*"')
    token = re.compile(rb">[^<]*</resumptionToken>")

    def stable(body: bytes) -> bytes:
        return token.sub(b"", expiry.sub(b"", date.sub(b"", body)))

    assert stable(posted.content) == stable(got.content)
    assert date.search(posted.content).group() != date.search(got.content).group()


def test_content_type_of_every_answer(loaded, client) -> None:
    for arguments in [*REQUESTS, {}]:
        response = client.get("/oai", query_string=arguments)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_oai_with_a_trailing_slash_answers_like_oai(loaded, live_server) -> None:
    """Answered there, not redirected: a harvester need not follow a redirect of a POST."""
    for method in ("GET", "POST"):
        for arguments in REQUESTS:
            plain = identity(live_server, method, **arguments)
            slashed = identity(live_server + "/", method, **arguments)
            assert slashed.content == plain.content, (method, arguments)
            assert slashed.headers["Content-Type"] == plain.headers["Content-Type"]


# --- Compression -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip, deflate", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("deflate;q=0.5, gzip;q=0", "deflate"),
        ("gzip;q=0, deflate;q=0", None),
        ("identity", None),
        ("br", None),
    ],
)
def test_compression_is_negotiated(loaded, live_server, oai_schema, accept, expected) -> None:
    for arguments in [
        {"verb": "Identify"},
        {"verb": "ListRecords", "metadataPrefix": "marc21"},
        {"verb": "GetRecord", "identifier": "nope:x", "metadataPrefix": "oai_dc"},
    ]:
        plain = identity(live_server, **arguments)
        response = requests.get(
            live_server,
            params=arguments,
            headers={"Accept-Encoding": accept},
            stream=True,
            timeout=30,
        )
        raw = response.raw.read(decode_content=False)
        assert response.status_code == 200
        assert "Accept-Encoding" in response.headers["Vary"]
        assert "Accept-Encoding" in plain.headers["Vary"]
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert response.headers.get("Content-Encoding") == expected
        assert int(response.headers["Content-Length"]) == len(raw)
        if expected == "gzip":
            body = gzip.decompress(raw)
        elif expected == "deflate":
            body = zlib.decompress(raw)  # HTTP "deflate" is the zlib format
        else:
            body = raw
        assert body == plain.content
        parse_valid(oai_schema, body)
        if expected and arguments["verb"] == "ListRecords":
            assert len(raw) < len(body) / 3


def test_requests_decodes_what_the_server_compresses(loaded, live_server, oai_schema) -> None:
    """requests' default Accept-Encoding (gzip, deflate): a harvester's view."""
    plain = identity(live_server, verb="ListRecords", metadataPrefix="oai_dc")
    response = requests.get(
        live_server, params={"verb": "ListRecords", "metadataPrefix": "oai_dc"}, timeout=30
    )
    assert response.headers["Content-Encoding"] in ("gzip", "deflate")
    assert response.content == plain.content


# --- Identify ----------------------------------------------------------------------------------


def identify(client, schema) -> etree._Element:  # type: ignore[no-untyped-def]
    root = parse_valid(schema, client.get("/oai?verb=Identify").data)
    element = root.find("oai:Identify", NS)
    assert element is not None
    return element


def test_identify_declares_what_the_server_does(loaded, client, oai_schema) -> None:
    element = identify(client, oai_schema)
    assert [c.text for c in element.iterfind("oai:compression", NS)] == ["gzip", "deflate"]
    assert element.findtext("oai:deletedRecord", namespaces=NS) == "persistent"
    assert element.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert element.findtext("oai:protocolVersion", namespaces=NS) == "2.0"
    description = element.find("oai:description/id:oai-identifier", NS)
    assert description is not None
    assert description.findtext("id:scheme", namespaces=NS) == "oai"
    assert description.findtext("id:repositoryIdentifier", namespaces=NS) == REPOSITORY_ID
    assert description.findtext("id:delimiter", namespaces=NS) == ":"
    sample = description.findtext("id:sampleIdentifier", namespaces=NS)
    assert SAMPLE.fullmatch(sample)
    # The sample is a real item: GetRecord of it answers with it.
    for prefix in ("oai_dc", "marc21"):
        root = parse_valid(
            oai_schema,
            client.get(
                "/oai",
                query_string={"verb": "GetRecord", "identifier": sample, "metadataPrefix": prefix},
            ).data,
        )
        assert root.find("oai:error", NS) is None
        assert root.findtext(".//oai:header/oai:identifier", namespaces=NS) == sample


def test_earliest_datestamp_is_the_true_minimum(db, client, oai_schema, clock) -> None:
    first = f"oai:{REPOSITORY_ID}:first"
    dc = (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>t</dc:title></oai_dc:dc>'
    )
    with db.write() as session:
        store(session, [NewRecord.of(first, {"oai_dc": dc})])
    clock.advance(3600)
    load(db, "marcxml/pymarc_batch.xml")
    clock.advance(3600)

    def minimum() -> datetime:
        with db.session() as session:
            return session.scalar(select(func.min(RecordRow.datestamp)))

    def earliest() -> str:
        return identify(client, oai_schema).findtext("oai:earliestDatestamp", namespaces=NS)

    assert minimum() == START
    assert earliest() == START.strftime(FORMAT)
    # A harvest from earliestDatestamp misses nothing.
    root = parse_valid(
        oai_schema,
        client.get(
            "/oai",
            query_string={
                "verb": "ListIdentifiers",
                "metadataPrefix": "oai_dc",
                "from": earliest(),
            },
        ).data,
    )
    assert len(root.findall(".//oai:header", NS)) == 3
    # Deleting the oldest record gives it a new datestamp: the minimum moves on.
    with db.write() as session:
        assert tombstone(session, first)
    assert minimum() == START + timedelta(seconds=3600)
    assert earliest() == minimum().strftime(FORMAT)


def test_identify_of_an_empty_repository(client, oai_schema) -> None:
    element = identify(client, oai_schema)
    sample = element.findtext(
        "oai:description/id:oai-identifier/id:sampleIdentifier", namespaces=NS
    )
    assert SAMPLE.fullmatch(sample)
    assert element.findtext("oai:earliestDatestamp", namespaces=NS)


# --- In a browser ------------------------------------------------------------------------------

_STYLESHEET_PI = re.compile(
    rb'<\?xml version="1.0" encoding="UTF-8"\?>\n'
    rb'<\?xml-stylesheet type="text/xsl" href="([^"]+)"\?>\n<OAI-PMH '
)
HOSTILE_DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:h="http://www.w3.org/1999/xhtml">'
    "<dc:title>Hostile <h:b>record</h:b></dc:title><dc:description>before "
    "<h:script>document.title='pwned'</h:script>"
    '<h:img src="x" onerror="document.title=\'pwned\'"/> after</dc:description></oai_dc:dc>'
)


def test_every_answer_names_the_stylesheet_and_forbids_script(loaded, live_server) -> None:
    site = live_server.removesuffix("/oai")
    for arguments in [*REQUESTS, {}]:
        response = identity(live_server, **arguments)
        found = _STYLESHEET_PI.match(response.content)
        assert found, response.content[:200]
        assert found.group(1) == b"/oai/static/oai2.xsl"
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["Content-Security-Policy"].split(";")
        )
        # Browsers load an XSLT under script-src-elem: from this server, and nothing inline.
        assert policy.pop("script-src") == "'none'"
        assert policy.pop("script-src-elem") == "'self'"
        assert policy.pop("style-src") == "'self'"
        assert set(policy.values()) == {"'none'"}
        assert {"default-src", "object-src", "base-uri", "form-action", "frame-ancestors"} <= set(
            policy
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    xslt = requests.get(site + found.group(1).decode(), timeout=10)
    assert xslt.status_code == 200
    assert xslt.headers["Content-Type"] == "application/xslt+xml; charset=utf-8"
    assert xslt.headers["X-Content-Type-Options"] == "nosniff"
    stylesheet = etree.fromstring(xslt.content)
    etree.XSLT(stylesheet)  # one that libxslt accepts
    # What a record holds is only ever written as text: never copied as elements,
    # never written unescaped.
    copying = "//@disable-output-escaping | //xsl:copy | //xsl:copy-of"
    assert not stylesheet.xpath(copying, namespaces={"xsl": "http://www.w3.org/1999/XSL/Transform"})
    css = requests.get(f"{site}/oai/static/oai2.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{site}/oai/static/oai2.py", timeout=10).status_code == 404


@pytest.fixture
def view(client):  # type: ignore[no-untyped-def]
    """GET /oai as a browser shows it: the answer through the XSLT it names (libxslt, as
    in Chromium), as an HTML tree; query strings are the links of the pages."""
    transform = etree.XSLT(etree.fromstring(client.get("/oai/static/oai2.xsl").data))

    def show(query: str) -> etree._Element:
        response = client.get("/oai" + query)
        assert response.status_code == 200
        return transform(etree.fromstring(response.data)).getroot()

    return show


def cells(page: etree._Element, caption: str) -> list[tuple[str, str]]:
    """A table's rows as a person reads them: (first cell, second cell)."""
    (table,) = page.xpath("//table[caption = $caption]", caption=caption)
    return [
        (row.xpath("string(*[1])"), row.xpath("string(*[2])")) for row in table.xpath("tbody/tr")
    ]


def test_the_stylesheet_shows_every_verb_as_a_page(loaded, client, view) -> None:
    identify = view("?verb=Identify")
    assert identify.xpath("string(//h1)") == "Identify"
    assert ("repositoryName", "libfed test repository") in cells(identify, "The repository")
    assert identify.xpath("//link[@rel='stylesheet']/@href") == ["/oai/static/oai2.css"]
    (sample,) = identify.xpath("//a[starts-with(@href, '?verb=GetRecord')]/@href")
    record = view(sample)
    assert record.xpath("string(//h1)") == "GetRecord"
    dc = etree.fromstring(client.get("/oai" + sample).data).find(".//oai_dc:dc", NS)
    assert cells(record, "Dublin Core") == [
        (etree.QName(field).localname, field.text) for field in dc
    ]

    formats = cells(view("?verb=ListMetadataFormats"), "Metadata formats")
    assert [prefix for prefix, _ in formats] == list(FORMATS)  # oai_dc, marc21, marcxml...
    sets = view("?verb=ListSets")
    assert cells(sets, "Sets") == [("gwu", "GWU")]
    assert sets.xpath("//table[caption='Sets']//a/@href") == [
        "?verb=ListRecords&metadataPrefix=oai_dc&set=gwu"
    ]
    error = " ".join(view("?verb=Nonsense").xpath("string(//main)").split())
    assert "badVerb: 'Nonsense' is not an OAI-PMH verb." in error

    marc = view("?verb=ListRecords&metadataPrefix=marc21")
    assert len(marc.xpath("//section[contains(@class, 'record')]")) == 10
    assert '<datafield tag="245"' in marc.xpath("string(//pre)")


def test_the_pages_of_a_list_follow_one_another(loaded, view) -> None:
    page = view("?verb=ListIdentifiers&metadataPrefix=oai_dc&set=gwu")
    seen = []
    while True:
        seen += page.xpath("//table[caption='Items']/tbody/tr/td[1]/a/text()")
        pager = " ".join(page.xpath("string(//nav[@class='pager'])").split())
        following = page.xpath("//a[@rel='next']/@href")
        if not following:
            break
        assert following[0].startswith("?verb=ListIdentifiers&resumptionToken=")
        assert pager.startswith(f"Items {len(seen) - 9}–{len(seen)} of 99.")
        page = view(following[0])
    assert pager.startswith("Items 91–99 of 99.") and "last page" in pager
    assert len(set(seen)) == 99


def test_a_record_is_text_in_the_page_whatever_it_holds(db, view) -> None:
    identifier = f"oai:{REPOSITORY_ID}:src:a&b+c%25d=e"  # & + % = reach the link encoded
    with db.write() as session:
        store(session, [NewRecord.of(identifier, {"oai_dc": HOSTILE_DC})])
    listed = view("?verb=ListIdentifiers&metadataPrefix=oai_dc")
    (link,) = listed.xpath("//table[caption='Items']//a/@href")
    page = view(link)
    assert page.xpath("string(//h2)") == identifier
    fields = dict(cells(page, "Dublin Core"))
    assert fields["title"] == "Hostile record"
    assert fields["description"] == "before document.title='pwned' after"
    assert not page.xpath(
        "//*[local-name() = 'script' or local-name() = 'img' or local-name() = 'b']"
    )
    assert not page.xpath("//@*[starts-with(name(), 'on')]")


# --- Characters XML cannot carry ---------------------------------------------------------------


def test_characters_illegal_in_xml_never_reach_a_response(
    db, client, oai_schema, tmp_path: Path
) -> None:
    record = Record(leader=Leader("00000nam a2200000 a 4500"))  # leader/09 a: UTF-8
    record.add_field(Field(tag="001", data="ctl\x01-1"))
    record.add_field(
        Field(
            tag="245",
            indicators=Indicators("1", "0"),
            subfields=[Subfield("a", "Bad\x0b title\ufffe with\x1b junk\uffff")],
        )
    )
    record.add_field(
        Field(
            tag="500",
            indicators=Indicators(" ", " "),
            subfields=[Subfield("a", "Note\x08 here\x0c")],
        )
    )
    path = tmp_path / "illegal.mrc"
    path.write_bytes(record.as_marc())
    summary = import_files(db, REPOSITORY_ID, [path])
    assert summary.added == 1, summary.rejected
    identifier = f"oai:{REPOSITORY_ID}:ctl-1"
    illegal = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
    for arguments in [
        {"verb": "GetRecord", "identifier": identifier, "metadataPrefix": "oai_dc"},
        {"verb": "GetRecord", "identifier": identifier, "metadataPrefix": "marc21"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "marc21"},
        {"verb": "ListIdentifiers", "metadataPrefix": "marc21"},
        {"verb": "Identify"},
    ]:
        response = client.get("/oai", query_string=arguments)
        text = response.data.decode("utf-8")
        assert not illegal.search(text), arguments
        root = parse_valid(oai_schema, response.data)
        assert root.find("oai:error", NS) is None, arguments
        if arguments.get("metadataPrefix") == "oai_dc" and arguments["verb"] != "ListIdentifiers":
            title = root.findtext(".//oai_dc:dc/dc:title", namespaces=NS)
            assert "Bad title with junk" in title
            assert "Note here" in root.findtext(".//oai_dc:dc/dc:description", namespaces=NS)
        if arguments.get("metadataPrefix") == "marc21" and arguments["verb"] != "ListIdentifiers":
            subfield = root.find(".//marc:datafield[@tag='245']/marc:subfield[@code='a']", NS)
            assert subfield.text == "Bad title with junk"
            assert root.findtext(".//marc:controlfield[@tag='001']", namespaces=NS) == "ctl-1"
        if arguments["verb"] != "Identify":
            assert root.findtext(".//oai:header/oai:identifier", namespaces=NS) == identifier


# --- Overload ----------------------------------------------------------------------------------


def test_a_database_failure_is_503_with_retry_after(loaded, client, monkeypatch) -> None:
    def failing(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(Provider, "respond", failing)
    for query in (
        "verb=Identify",
        # Raw non-UTF-8 bytes in a request that parses (the failure is logged with it).
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x.org:\xe9",
    ):
        response = client.get("/oai", environ_overrides={"QUERY_STRING": query})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
