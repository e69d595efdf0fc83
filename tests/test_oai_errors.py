"""Protocol errors: the exact code for each malformed request, and never a 500.

Every response here is HTTP 200 and validates against the official XSDs; for
badVerb/badArgument the <request> element carries no attributes, for every other
error it echoes the arguments, escaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote_from_bytes

import pytest
from conftest import OAI_NS, REPOSITORY_ID, config_dict, load, parse_valid
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from werkzeug.datastructures import MultiDict

from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.oai.arguments import RESUMABLE
from libfed.oai.arguments import VERBS as ARGUMENTS_OF
from libfed.oai.errors import UNPARSED
from libfed.records.repository import NewRecord, store
from libfed.records.xmltext import strip_illegal
from libfed.root.app import create_app
from tests.backends import Databases

GWU = "marcxml/marc2bibframe2_gwu.xml"
KNOWN = f"oai:{REPOSITORY_ID}:7704213"  # 001 of the first gwu record
OTHER_ONLY = f"oai:{REPOSITORY_ID}:other-only"  # a record in no format this server knows
ALL_CODES = {
    "badVerb",
    "badArgument",
    "badResumptionToken",
    "cannotDisseminateFormat",
    "idDoesNotExist",
    "noRecordsMatch",
    "noMetadataFormats",
    "noSetHierarchy",
}
LI_TOKEN = "<a ListIdentifiers token>"
LR_TOKEN = "<a ListRecords token>"


def make_repository(db: Database, with_sets: bool) -> None:
    load(db, GWU, sets={"gwu": "GWU", "lib:gwu": None} if with_sets else None)
    with db.write() as session:
        store(session, [NewRecord.of(OTHER_ONLY, {"other": "<x/>"})])


def token_of(client, verb: str) -> str:  # type: ignore[no-untyped-def]
    root = etree.fromstring(client.get(f"/oai?verb={verb}&metadataPrefix=oai_dc").data)
    token = root.find(f"oai:{verb}/oai:resumptionToken", OAI_NS)
    assert token is not None and token.text
    return token.text


def check_error_response(schema, response, arguments: list[tuple[str, str]]) -> set[str]:  # type: ignore[no-untyped-def]
    """The error codes of a response, after the checks every response must pass."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = parse_valid(schema, response.data)
    request = root.find("oai:request", OAI_NS)
    assert request.text == "http://127.0.0.1/oai"
    codes = {e.get("code") for e in root.iterfind("oai:error", OAI_NS)}
    assert codes <= ALL_CODES
    if codes & UNPARSED:
        assert request.attrib == {}, "no attributes on <request> for badVerb/badArgument"
    else:
        # A request that was understood is echoed: exactly its arguments, escaped.
        assert request.attrib == {name: strip_illegal(value) for name, value in arguments}
    if codes:
        assert all(e.text for e in root.iterfind("oai:error", OAI_NS)), "errors say why"
        # responseDate, request, then errors only: no verb element beside them.
        assert [etree.QName(e).localname for e in root[2:]] == ["error"] * (len(root) - 2)
    return codes


# --- The table of malformed requests -------------------------------------------------------

V = "verb"
P = "metadataPrefix"
CASES: list[tuple[str, list[tuple[str, str]], str, bool]] = [
    # (name, arguments, expected code, repository has sets)
    ("no verb", [], "badVerb", True),
    ("no verb, other arguments", [(P, "oai_dc")], "badVerb", True),
    ("empty verb", [(V, "")], "badVerb", True),
    ("unknown verb", [(V, "ListEverything")], "badVerb", True),
    ("verb in the wrong case", [(V, "identify")], "badVerb", True),
    ("repeated verb", [(V, "Identify"), (V, "Identify")], "badVerb", True),
    ("two different verbs", [(V, "Identify"), (V, "ListSets")], "badVerb", True),
    ("illegal argument", [(V, "Identify"), ("foo", "bar")], "badArgument", True),
    ("argument of another verb", [(V, "ListSets"), (P, "oai_dc")], "badArgument", True),
    ("repeated argument", [(V, "ListRecords"), (P, "oai_dc"), (P, "oai_dc")], "badArgument", True),
    ("ListRecords without metadataPrefix", [(V, "ListRecords")], "badArgument", True),
    ("ListIdentifiers without metadataPrefix", [(V, "ListIdentifiers")], "badArgument", True),
    ("GetRecord without identifier", [(V, "GetRecord"), (P, "oai_dc")], "badArgument", True),
    (
        "GetRecord without metadataPrefix",
        [(V, "GetRecord"), ("identifier", KNOWN)],
        "badArgument",
        True,
    ),
    (
        "resumptionToken with another argument",
        [(V, "ListRecords"), ("resumptionToken", LR_TOKEN), (P, "oai_dc")],
        "badArgument",
        True,
    ),
    (
        "garbage token",
        [(V, "ListRecords"), ("resumptionToken", "garbage")],
        "badResumptionToken",
        True,
    ),
    ("empty token", [(V, "ListIdentifiers"), ("resumptionToken", "")], "badResumptionToken", True),
    (
        "ListIdentifiers token used for ListRecords",
        [(V, "ListRecords"), ("resumptionToken", LI_TOKEN)],
        "badResumptionToken",
        True,
    ),
    (
        "ListRecords token used for ListIdentifiers",
        [(V, "ListIdentifiers"), ("resumptionToken", LR_TOKEN)],
        "badResumptionToken",
        True,
    ),
    (
        "ListSets with a resumptionToken",
        [(V, "ListSets"), ("resumptionToken", "x")],
        "badResumptionToken",
        True,
    ),
    ("month 13", [(V, "ListRecords"), (P, "oai_dc"), ("from", "2020-13-01")], "badArgument", True),
    (
        "30 February",
        [(V, "ListRecords"), (P, "oai_dc"), ("until", "2021-02-30")],
        "badArgument",
        True,
    ),
    (
        "time without Z",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2020-01-01T00:00:00")],
        "badArgument",
        True,
    ),
    (
        "fractional seconds",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2020-01-01T00:00:00.5Z")],
        "badArgument",
        True,
    ),
    (
        "time zone offset",
        [(V, "ListIdentifiers"), (P, "oai_dc"), ("until", "2020-01-01T00:00:00+00:00")],
        "badArgument",
        True,
    ),
    (
        "minutes granularity",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2020-01-01T00:00Z")],
        "badArgument",
        True,
    ),
    (
        "unpadded date",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2020-1-1")],
        "badArgument",
        True,
    ),
    (
        "full-width digits",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "\uff12\uff10\uff12\uff10-01-01")],
        "badArgument",
        True,
    ),
    ("empty from", [(V, "ListRecords"), (P, "oai_dc"), ("from", "")], "badArgument", True),
    (
        "mixed granularity",
        [
            (V, "ListRecords"),
            (P, "oai_dc"),
            ("from", "2020-01-01"),
            ("until", "2030-01-01T00:00:00Z"),
        ],
        "badArgument",
        True,
    ),
    (
        "from later than until (days)",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2021-01-02"), ("until", "2021-01-01")],
        "badArgument",
        True,
    ),
    (
        "from later than until (seconds)",
        [
            (V, "ListIdentifiers"),
            (P, "oai_dc"),
            ("from", "2021-01-01T00:00:01Z"),
            ("until", "2021-01-01T00:00:00Z"),
        ],
        "badArgument",
        True,
    ),
    (
        "until before the earliest datestamp",
        [(V, "ListRecords"), (P, "oai_dc"), ("until", "2000-01-01")],
        "noRecordsMatch",
        True,
    ),
    (
        "until before the earliest datestamp (seconds)",
        [(V, "ListIdentifiers"), (P, "marc21"), ("until", "2000-01-01T00:00:00Z")],
        "noRecordsMatch",
        True,
    ),
    (
        "from in the future",
        [(V, "ListRecords"), (P, "oai_dc"), ("from", "2999-01-01")],
        "noRecordsMatch",
        True,
    ),
    (
        "unknown metadataPrefix",
        [(V, "ListRecords"), (P, "dcterms")],
        "cannotDisseminateFormat",
        True,
    ),
    (
        "unknown metadataPrefix, ListIdentifiers",
        [(V, "ListIdentifiers"), (P, "dcterms")],
        "cannotDisseminateFormat",
        True,
    ),
    (
        "GetRecord in an unknown format",
        [(V, "GetRecord"), ("identifier", KNOWN), (P, "dcterms")],
        "cannotDisseminateFormat",
        True,
    ),
    (
        "GetRecord in a format the item lacks",
        [(V, "GetRecord"), ("identifier", OTHER_ONLY), (P, "oai_dc")],
        "cannotDisseminateFormat",
        True,
    ),
    ("metadataPrefix of illegal syntax", [(V, "ListRecords"), (P, "oai dc")], "badArgument", True),
    ("empty metadataPrefix", [(V, "ListRecords"), (P, "")], "badArgument", True),
    (
        "unknown set",
        [(V, "ListRecords"), (P, "oai_dc"), ("set", "nosuchset")],
        "noRecordsMatch",
        True,
    ),
    (
        "unknown child set",
        [(V, "ListIdentifiers"), (P, "oai_dc"), ("set", "gwu:x")],
        "noRecordsMatch",
        True,
    ),
    (
        "set of illegal syntax",
        [(V, "ListRecords"), (P, "oai_dc"), ("set", "a b")],
        "badArgument",
        True,
    ),
    (
        "set when there are no sets",
        [(V, "ListRecords"), (P, "oai_dc"), ("set", "gwu")],
        "noSetHierarchy",
        False,
    ),
    ("ListSets when there are no sets", [(V, "ListSets")], "noSetHierarchy", False),
    (
        "GetRecord unknown identifier",
        [(V, "GetRecord"), ("identifier", f"oai:{REPOSITORY_ID}:nope"), (P, "oai_dc")],
        "idDoesNotExist",
        True,
    ),
    (
        "ListMetadataFormats unknown identifier",
        [(V, "ListMetadataFormats"), ("identifier", "oai:x.org:1")],
        "idDoesNotExist",
        True,
    ),
    (
        "identifier that is no URI",
        [(V, "GetRecord"), ("identifier", "::::"), (P, "oai_dc")],
        "badArgument",
        True,
    ),
    (
        "item without a known format",
        [(V, "ListMetadataFormats"), ("identifier", OTHER_ONLY)],
        "noMetadataFormats",
        True,
    ),
]


@pytest.fixture(scope="module")
def apps(databases: Databases, migrated_template: str) -> Iterator[dict[bool, Flask]]:
    made: dict[bool, Flask] = {}
    dbs = []
    for with_sets in (True, False):
        config = parse_config(config_dict(databases.copy(migrated_template, "errors")))
        db = Database(config.database.url)
        make_repository(db, with_sets)
        made[with_sets] = create_app(config, db)
        dbs.append(db)
    yield made
    for db in dbs:
        db.dispose()


@pytest.mark.parametrize(
    ("arguments", "expected", "with_sets"),
    [pytest.param(a, code, s, id=name) for name, a, code, s in CASES],
)
def test_malformed_request_gives_the_exact_error(
    apps, oai_schema, arguments: list[tuple[str, str]], expected: str, with_sets: bool
) -> None:
    client = apps[with_sets].test_client()
    tokens = {LI_TOKEN: "ListIdentifiers", LR_TOKEN: "ListRecords"}
    arguments = [(n, token_of(client, tokens[v]) if v in tokens else v) for n, v in arguments]
    response = client.get("/oai", query_string=MultiDict(arguments))
    assert check_error_response(oai_schema, response, arguments) == {expected}


def test_the_table_covers_all_eight_error_codes() -> None:
    assert {code for _, _, code, _ in CASES} == ALL_CODES


def test_several_bad_arguments_are_all_reported(apps, oai_schema) -> None:
    arguments = [(V, "ListRecords"), ("foo", "1"), ("bar", "2")]
    response = apps[True].test_client().get("/oai", query_string=MultiDict(arguments))
    root = parse_valid(oai_schema, response.data)
    errors = root.findall("oai:error", OAI_NS)
    assert [e.get("code") for e in errors] == ["badArgument"] * 3  # foo, bar, metadataPrefix
    assert root.find("oai:request", OAI_NS).attrib == {}


# --- Hostile values stay well-formed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected", "echoed"),
    [
        pytest.param(
            [(V, "GetRecord"), ("identifier", 'invalid"id<&'), (P, "oai_dc")],
            "idDoesNotExist",
            'invalid"id<&',
            id="quote-lt-amp identifier",
        ),
        pytest.param(
            [(V, "GetRecord"), ("identifier", "oai:x.org:a'b>c\t\n\r"), (P, "oai_dc")],
            "idDoesNotExist",
            "oai:x.org:a'b>c\t\n\r",
            id="whitespace identifier",
        ),
        pytest.param(
            [(V, "ListRecords"), ("resumptionToken", 'x"<&>\x00\x1f\ufffe\uffff\ud7ff\U0010ffff')],
            "badResumptionToken",
            'x"<&>\ud7ff\U0010ffff',
            id="control chars in token",
        ),
        pytest.param(
            [(V, "GetRecord"), ("identifier", "a\x00b"), (P, "oai_dc")],
            "badArgument",
            None,
            id="NUL in identifier",
        ),
        pytest.param([(V, '<&"\x00\ufffe')], "badVerb", None, id="hostile verb"),
        pytest.param(
            [(V, "Identify"), ('<&"\x00\ufffe', '<&"\x0b')], "badArgument", None, id="hostile name"
        ),
        pytest.param(
            [(V, "ListRecords"), (P, "oai_dc"), ("from", "x" * 100_000)],
            "badArgument",
            None,
            id="very long value",
        ),
    ],
)
def test_hostile_values_are_escaped(apps, oai_schema, arguments, expected, echoed) -> None:
    client = apps[True].test_client()
    for response in (
        client.get("/oai", query_string=MultiDict(arguments)),
        client.post("/oai", data=MultiDict(arguments)),
    ):
        assert check_error_response(oai_schema, response, arguments) == {expected}
        root = etree.fromstring(response.data)
        request = root.find("oai:request", OAI_NS)
        if echoed is not None:
            name = arguments[1][0]
            assert request.get(name) == echoed
        for error in root.iterfind("oai:error", OAI_NS):
            assert "\x00" not in error.text and "\ufffe" not in error.text


def test_raw_bytes_in_the_query_string(apps, oai_schema) -> None:
    """Unencoded non-UTF-8 bytes (a Latin-1 harvester) are an OAI error, not a 500."""
    client = apps[True].test_client()
    for raw, expected in [
        (b"verb=Identify&x=\xff", {"badArgument"}),
        (b"verb=\xe9", {"badVerb"}),
        (b"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x.org:\xe9", {"idDoesNotExist"}),
        (b"verb=GetRecord&metadataPrefix=oai_dc&identifier=%ED%A0%80", {"idDoesNotExist"}),
    ]:
        response = client.get("/oai", environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
        assert response.status_code == 200, raw
        root = parse_valid(oai_schema, response.data)
        assert {e.get("code") for e in root.iterfind("oai:error", OAI_NS)} == expected, raw


# --- Never a 500, whatever the query ------------------------------------------------------------

VERBS = [
    "Identify",
    "ListMetadataFormats",
    "ListSets",
    "GetRecord",
    "ListIdentifiers",
    "ListRecords",
]
NAMES = ["verb", "metadataPrefix", "identifier", "set", "from", "until", "resumptionToken"]
INTERESTING = [
    *VERBS,
    "oai_dc",
    "marc21",
    "mods",
    "gwu",
    "lib",
    "lib:gwu",
    "nosuchset",
    KNOWN,
    OTHER_ONLY,
    "2020-01-01",
    "2999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "2020-01-01T00:00:00Z",
    "2020-02-30",
    'invalid"id<&',
    "\x00",
    "\ufffe",
    "",
    "::::",
    "%zz",
    "<token>",
    "<cut token>",
]
texts = st.text(max_size=40) | st.text(min_size=1000, max_size=5000, alphabet="a<&\"'%:\x00é")
values = st.sampled_from(INTERESTING) | texts
names = st.sampled_from(NAMES) | st.text(max_size=12)
first = st.tuples(st.just("verb"), st.sampled_from(VERBS))
argument_lists = st.builds(
    lambda head, tail: [head, *tail],
    first,
    st.lists(st.tuples(names, values), max_size=5),
) | st.lists(st.tuples(names, values), max_size=5)


GOOD = {
    "metadataPrefix": st.sampled_from(["oai_dc", "marc21", "mods"]),
    "identifier": st.sampled_from([KNOWN, OTHER_ONLY, "oai:x.org:1", 'invalid"id<&']),
    "set": st.sampled_from(["gwu", "lib", "lib:gwu", "nosuchset"]),
    "from": st.sampled_from(["2000-01-01", "2020-01-01T00:00:00Z", "2999-01-01"]),
    "until": st.sampled_from(["2000-01-01", "2999-01-01T00:00:00Z", "2999-01-01"]),
    "resumptionToken": st.sampled_from(["<token>", "<cut token>"]),
}


@st.composite
def plausible_requests(draw) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """A verb with its own arguments: reaches the verbs' answers, not just the parser."""
    verb = draw(st.sampled_from(VERBS))
    required, optional = ARGUMENTS_OF[verb]
    if verb in RESUMABLE and draw(st.booleans()):
        chosen = ["resumptionToken"]
    else:
        chosen = sorted(required)
        if optional:
            chosen += draw(st.lists(st.sampled_from(sorted(optional)), unique=True))
    return [("verb", verb), *((name, draw(GOOD[name] | values)) for name in chosen)]


@pytest.fixture(scope="module")
def hypothesis_client(apps):  # type: ignore[no-untyped-def]
    client = apps[True].test_client()
    return client, token_of(client, "ListRecords"), token_of(client, "ListIdentifiers")


def send(hypothesis_client, oai_schema, arguments, method, data) -> set[str]:  # type: ignore[no-untyped-def]
    client, lr_token, li_token = hypothesis_client
    # Real tokens, whole or cut short, are more interesting than random text.
    token = data.draw(st.sampled_from([lr_token, li_token]))
    cut = token[: data.draw(st.integers(0, len(token) - 1))]
    arguments = [(n, {"<token>": token, "<cut token>": cut}.get(v, v)) for n, v in arguments]
    if method == "GET":
        response = client.get("/oai", query_string=MultiDict(arguments))
    else:
        response = client.post("/oai", data=MultiDict(arguments))
    found = check_error_response(oai_schema, response, arguments)
    verb = arguments[0][1] if arguments and arguments[0][0] == "verb" else "-"
    event(f"{verb if verb in VERBS else '?'}: {sorted(found)}")
    return found


HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
METHODS = st.sampled_from(["GET", "POST"])


@HYPOTHESIS
@given(arguments=argument_lists, method=METHODS, data=st.data())
def test_no_query_gives_a_500_or_an_invalid_document(
    hypothesis_client, oai_schema, arguments, method, data
) -> None:
    send(hypothesis_client, oai_schema, arguments, method, data)


@HYPOTHESIS
@given(arguments=plausible_requests(), method=METHODS, data=st.data())
def test_no_plausible_request_gives_a_500_or_an_invalid_document(
    hypothesis_client, oai_schema, arguments, method, data
) -> None:
    send(hypothesis_client, oai_schema, arguments, method, data)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pieces=st.lists(
        st.tuples(
            st.sampled_from([b"verb", b"identifier", b"set", b"x"]) | st.binary(max_size=8),
            st.binary(max_size=12),
        ),
        max_size=4,
    ),
    verb=st.sampled_from([v.encode() for v in VERBS]),
    encode=st.booleans(),
)
def test_no_raw_query_string_gives_a_500(
    hypothesis_client, oai_schema, pieces, verb, encode
) -> None:
    """Arbitrary bytes, percent-encoded or raw: invalid UTF-8, encoded surrogates, NULs."""
    client, _, _ = hypothesis_client

    def part(value: bytes) -> bytes:
        return quote_from_bytes(value).encode() if encode else value

    query = b"&".join([b"verb=" + verb, *(part(n) + b"=" + part(v) for n, v in pieces)])
    response = client.get("/oai", environ_overrides={"QUERY_STRING": query.decode("latin-1")})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = parse_valid(oai_schema, response.data)
    if {e.get("code") for e in root.iterfind("oai:error", OAI_NS)} & UNPARSED:
        assert root.find("oai:request", OAI_NS).attrib == {}
