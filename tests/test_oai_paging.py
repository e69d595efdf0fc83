"""Resumption: complete, exact, stable harvests over many pages, also while data changes.

Time is frozen and moved by hand (datestamps are whole seconds): the records'
datestamps come from libfed.records.utc_now, a request's "now" (responseDate and
the frozen upper bound of a harvest) from libfed.oai.endpoint.now_utc.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import itsdangerous.timed
import pytest
from conftest import CLOCK_START, OAI_NS, REPOSITORY_ID, config_dict, parse_valid
from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.records.importer import render
from libfed.records.marc_checks import checked
from libfed.records.repository import NewRecord, store, tombstone
from libfed.root.app import create_app

START = CLOCK_START
FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def ident(number: int) -> str:
    return f"oai:{REPOSITORY_ID}:r{number:03d}"


def new_record(number: int, sets: tuple[str, ...] = (), title: str = "") -> NewRecord:
    """A real MARC record rendered by the importer, so every format validates."""
    marc = Record(leader="00000nam a2200000 a 4500")
    marc.add_field(Field(tag="001", data=f"r{number:03d}"))
    marc.add_field(
        Field(
            tag="245",
            indicators=Indicators("0", "0"),
            subfields=[Subfield("a", title or f"Record number {number}")],
        )
    )
    return render(checked(marc, str(marc.leader)), REPOSITORY_ID, sets)


def add(db: Database, numbers, sets: tuple[str, ...] = (), title: str = "") -> None:  # type: ignore[no-untyped-def]
    with db.write() as session:
        store(session, [new_record(n, sets, title) for n in numbers])


@dataclass
class Page:
    root: etree._Element
    verb: str
    identifiers: list[str] = field(default_factory=list)

    @property
    def token(self) -> etree._Element | None:
        return self.root.find(f"oai:{self.verb}/oai:resumptionToken", OAI_NS)

    @property
    def response_date(self) -> datetime:
        return datetime.strptime(self.root.findtext("oai:responseDate", namespaces=OAI_NS), FORMAT)

    def headers(self) -> list[etree._Element]:
        return self.root.findall(f"oai:{self.verb}//oai:header", OAI_NS)


def request(client, schema, arguments: dict[str, str]) -> etree._Element:  # type: ignore[no-untyped-def]
    response = client.get("/oai", query_string=arguments)
    assert response.status_code == 200
    return parse_valid(schema, response.data)


def codes(root: etree._Element) -> set[str]:
    return {e.get("code") for e in root.iterfind("oai:error", OAI_NS)}


def page(client, schema, verb: str, arguments: dict[str, str]) -> Page:  # type: ignore[no-untyped-def]
    root = request(client, schema, {"verb": verb, **arguments})
    assert not codes(root), etree.tostring(root)[:1000]
    found = Page(root, verb)
    found.identifiers = [h.findtext("oai:identifier", namespaces=OAI_NS) for h in found.headers()]
    return found


def harvest(client, schema, verb: str, between=None, **arguments: str) -> list[Page]:  # type: ignore[no-untyped-def]
    """Every page of a list; `between(n)` runs after page n (1-based) is received."""
    pages = [page(client, schema, verb, arguments)]
    while pages[-1].token is not None and pages[-1].token.text:
        if between:
            between(len(pages))
        pages.append(page(client, schema, verb, {"resumptionToken": pages[-1].token.text}))
    return pages


def flat(pages: list[Page]) -> list[str]:
    return [i for p in pages for i in p.identifiers]


def since(moment: datetime) -> dict[str, str]:
    return {"from": moment.strftime(FORMAT)}


# --- Page structure ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 9, 10])
@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_no_token_when_one_page_is_enough(db, client, oai_schema, clock, verb, count) -> None:
    add(db, range(count))
    pages = harvest(client, oai_schema, verb, metadataPrefix="oai_dc")
    assert len(pages) == 1
    assert pages[0].token is None
    assert pages[0].identifiers == [ident(n) for n in range(count)]


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_cursor_size_and_expiration_over_pages(db, client, oai_schema, clock, verb) -> None:
    add(db, range(25))
    clock.advance(5)
    pages = harvest(client, oai_schema, verb, metadataPrefix="marc21")
    assert [len(p.identifiers) for p in pages] == [10, 10, 5]
    assert flat(pages) == [ident(n) for n in range(25)]  # in (datestamp, identifier) order
    for number, p in enumerate(pages):
        token = p.token
        assert token is not None
        assert token.get("completeListSize") == "25"
        assert token.get("cursor") == str(10 * number)
    for p in pages[:-1]:
        assert p.token.text
        expires = datetime.strptime(p.token.get("expirationDate"), FORMAT)
        assert expires == p.response_date + timedelta(seconds=86_400)  # the default ttl
    last = pages[-1].token
    assert not last.text
    assert last.get("expirationDate") is None


def test_expiration_follows_the_configured_ttl(database_url, db, oai_schema) -> None:
    config = parse_config(config_dict(database_url, token_ttl_seconds=3600))
    client = create_app(config, db).test_client()
    add(db, range(11))
    first = page(client, oai_schema, "ListIdentifiers", {"metadataPrefix": "oai_dc"})
    expires = datetime.strptime(first.token.get("expirationDate"), FORMAT)
    assert expires - first.response_date == timedelta(seconds=3600)
    assert expires > datetime.now(UTC).replace(tzinfo=None) + timedelta(
        seconds=3500
    )  # real time, real future


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_no_phantom_page_when_the_total_is_a_multiple_of_the_page(
    db, client, oai_schema, clock, verb
) -> None:
    add(db, range(20))
    pages = harvest(client, oai_schema, verb, metadataPrefix="oai_dc")
    assert len(pages) == 2
    assert [len(p.identifiers) for p in pages] == [10, 10]
    last = pages[1].token
    assert last is not None and not last.text
    assert last.get("completeListSize") == "20"
    assert last.get("cursor") == "10"


def test_a_list_from_year_one_resumes(db, client, oai_schema, clock) -> None:
    add(db, range(15))
    pages = harvest(
        client, oai_schema, "ListIdentifiers", metadataPrefix="oai_dc", **{"from": "0001-01-01"}
    )
    assert flat(pages) == [ident(n) for n in range(15)]


def test_an_expired_token_is_bad(db, client, oai_schema, clock, monkeypatch) -> None:
    add(db, range(15))
    first = page(client, oai_schema, "ListRecords", {"metadataPrefix": "oai_dc"})
    token = first.token.text
    later = itsdangerous.timed.time.time() + 86_400 + 5
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
    root = request(client, oai_schema, {"verb": "ListRecords", "resumptionToken": token})
    assert codes(root) == {"badResumptionToken"}
    assert root.find("oai:request", OAI_NS).attrib == {
        "verb": "ListRecords",
        "resumptionToken": token,
    }


# --- Selective harvests ----------------------------------------------------------------------


def test_sets_are_hierarchical(db, client, oai_schema, clock) -> None:
    add(db, range(0, 12), sets=("a:b",))
    add(db, range(12, 15), sets=("a:c",))
    add(db, range(15, 18), sets=("d",))
    add(db, range(18, 20))  # in no set
    in_a = harvest(client, oai_schema, "ListIdentifiers", metadataPrefix="oai_dc", set="a")
    assert flat(in_a) == [ident(n) for n in range(15)]
    assert in_a[-1].token.get("completeListSize") == "15"
    in_ab = harvest(client, oai_schema, "ListRecords", metadataPrefix="marc21", set="a:b")
    assert flat(in_ab) == [ident(n) for n in range(12)]
    assert [len(p.identifiers) for p in in_ab] == [10, 2]
    header = in_ab[0].headers()[0]
    assert sorted(s.text for s in header.iterfind("oai:setSpec", OAI_NS)) == ["a", "a:b"]
    in_d = harvest(client, oai_schema, "ListRecords", metadataPrefix="oai_dc", set="d")
    assert flat(in_d) == [ident(n) for n in range(15, 18)]
    assert len(in_d) == 1 and in_d[0].token is None
    everything = harvest(client, oai_schema, "ListIdentifiers", metadataPrefix="oai_dc")
    assert sorted(flat(everything)) == [ident(n) for n in range(20)]


def test_from_and_until_at_day_granularity(db, client, oai_schema, clock) -> None:
    clock.set(datetime(2024, 5, 1, 23, 59, 59))
    add(db, [0])
    clock.set(datetime(2024, 5, 2, 0, 0, 0))
    add(db, [1])
    clock.set(datetime(2024, 5, 2, 12, 30, 0))
    add(db, [2])
    clock.set(datetime(2024, 5, 2, 23, 59, 59))
    add(db, [3])
    clock.set(datetime(2024, 5, 3, 0, 0, 0))
    add(db, [4])
    clock.set(datetime(2024, 6, 1))

    def listed(**bounds: str) -> list[str]:
        arguments = {"metadataPrefix": "oai_dc", **bounds}
        return flat(harvest(client, oai_schema, "ListIdentifiers", **arguments))

    assert listed(**{"from": "2024-05-02", "until": "2024-05-02"}) == [ident(n) for n in (1, 2, 3)]
    assert listed(until="2024-05-01") == [ident(0)]
    assert listed(until="2024-05-02") == [ident(n) for n in range(4)]
    assert listed(**{"from": "2024-05-03"}) == [ident(4)]
    assert listed(**{"from": "2024-05-01"}) == [ident(n) for n in range(5)]
    root = request(
        client,
        oai_schema,
        {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "2024-04-30"},
    )
    assert codes(root) == {"noRecordsMatch"}


def test_from_and_until_at_seconds_granularity(db, client, oai_schema, clock) -> None:
    stamps = [START + timedelta(seconds=s) for s in (0, 1, 2, 60, 3600)]
    for number, stamp in enumerate(stamps):
        clock.set(stamp)
        add(db, [number])
    clock.advance(10)

    def listed(**bounds: datetime) -> list[str]:
        arguments = {name: value.strftime(FORMAT) for name, value in bounds.items()}
        pages = harvest(client, oai_schema, "ListRecords", metadataPrefix="oai_dc", **arguments)
        return flat(pages)

    # Both bounds are inclusive, to the second.
    assert listed(**{"from": stamps[1], "until": stamps[3]}) == [ident(n) for n in (1, 2, 3)]
    assert listed(**{"from": stamps[2], "until": stamps[2]}) == [ident(2)]
    assert listed(until=stamps[0]) == [ident(0)]
    assert listed(**{"from": stamps[3] + timedelta(seconds=1)}) == [ident(4)]
    shown = page(
        client, oai_schema, "GetRecord", {"identifier": ident(3), "metadataPrefix": "oai_dc"}
    )
    datestamp = shown.root.findtext(".//oai:header/oai:datestamp", namespaces=OAI_NS)
    assert datestamp == stamps[3].strftime(FORMAT)  # the datestamp filtered on is the one shown


# --- Harvests while the data changes -----------------------------------------------------------


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_the_upper_bound_is_frozen_at_the_first_request(
    db, client, oai_schema, clock, verb
) -> None:
    add(db, range(25))
    clock.advance(10)
    started = clock()
    changed_at: list[datetime] = []

    def change(after_page: int) -> None:
        if after_page != 1:
            return
        changed_at.append(clock.advance(5))
        add(db, [3], title="Changed after it was sent")  # on page 1, already harvested
        add(db, [15], title="Changed before it was sent")  # on page 2
        with db.write() as session:
            assert tombstone(session, ident(22))  # on page 3
        add(db, [99])  # a new record
        clock.advance(5)

    pages = harvest(client, oai_schema, verb, between=change, metadataPrefix="oai_dc")
    seen = flat(pages)
    assert len(seen) == len(set(seen)), "no record twice in one harvest"
    unchanged = [ident(n) for n in range(25) if n not in (3, 15, 22)]
    assert [i for i in seen if i in unchanged] == unchanged  # each exactly once, in order
    assert ident(3) in seen  # sent on page 1, before the change
    assert ident(15) not in seen and ident(22) not in seen and ident(99) not in seen
    assert all(p.token.get("completeListSize") == "25" for p in pages)
    assert [p.token.get("cursor") for p in pages] == ["0", "10", "20"]
    assert all(h.get("status") is None for p in pages for h in p.headers())

    # The next incremental harvest (from the first responseDate) picks the changes up.
    assert pages[0].response_date == started
    following = harvest(client, oai_schema, verb, metadataPrefix="oai_dc", **since(started))
    headers = {
        h.findtext("oai:identifier", namespaces=OAI_NS): h for p in following for h in p.headers()
    }
    assert sorted(headers) == [ident(n) for n in (3, 15, 22, 99)]
    assert headers[ident(22)].get("status") == "deleted"
    stamp = changed_at[0].strftime(FORMAT)
    assert {h.findtext("oai:datestamp", namespaces=OAI_NS) for h in headers.values()} == {stamp}


def test_changed_records_on_later_pages_do_not_leave_a_gap(db, client, oai_schema, clock) -> None:
    """Records that move out of the frozen range shift nothing: no other record is skipped."""
    add(db, range(30))
    clock.advance(10)

    def change(after_page: int) -> None:
        clock.advance(1)
        if after_page == 1:
            add(db, range(10, 20), title="All of page two changed")

    pages = harvest(client, oai_schema, "ListIdentifiers", between=change, metadataPrefix="oai_dc")
    assert flat(pages) == [ident(n) for n in (*range(10), *range(20, 30))]
    assert pages[-1].token.get("cursor") == "10"


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
def test_a_deleted_record_in_lists(db, client, oai_schema, clock, verb) -> None:
    add(db, range(5), sets=("x:y",))
    clock.advance(5)
    with db.write() as session:
        assert tombstone(session, ident(2))
    clock.advance(5)
    for prefix in ("oai_dc", "marc21"):
        pages = harvest(client, oai_schema, verb, metadataPrefix=prefix, set="x:y")
        headers = {
            h.findtext("oai:identifier", namespaces=OAI_NS): h for p in pages for h in p.headers()
        }
        assert sorted(headers) == [ident(n) for n in range(5)]
        deleted = headers[ident(2)]
        assert deleted.get("status") == "deleted"
        assert sorted(s.text for s in deleted.iterfind("oai:setSpec", OAI_NS)) == ["x", "x:y"]
        assert deleted.findtext("oai:datestamp", namespaces=OAI_NS) == (
            START + timedelta(seconds=5)
        ).strftime(FORMAT)
        if verb == "ListRecords":
            assert deleted.getparent().find("oai:metadata", OAI_NS) is None
            others = [h.getparent() for i, h in headers.items() if i != ident(2)]
            assert all(r.find("oai:metadata", OAI_NS) is not None for r in others)
        shown = page(
            client, oai_schema, "GetRecord", {"identifier": ident(2), "metadataPrefix": prefix}
        )
        record = shown.root.find("oai:GetRecord/oai:record", OAI_NS)
        assert record.find("oai:header", OAI_NS).get("status") == "deleted"
        assert record.find("oai:metadata", OAI_NS) is None
        assert sorted(s.text for s in record.iterfind("oai:header/oai:setSpec", OAI_NS)) == [
            "x",
            "x:y",
        ]


# --- Tokens across workers ---------------------------------------------------------------------


def test_tokens_work_across_app_instances_sharing_a_database(config, db, oai_schema, clock) -> None:
    add(db, range(25), sets=("s",))
    other_db = Database(config.database.url)
    try:
        first = create_app(config, db).test_client()
        second = create_app(config, other_db).test_client()  # another worker, same database
        assert first.application.config["SECRET_KEY"] == second.application.config["SECRET_KEY"]
        arguments = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "s"}
        seen: list[str] = []
        root = request(first, oai_schema, arguments)
        clients = iter([second, first, second])
        while True:
            assert not codes(root)
            seen += [e.text for e in root.iterfind(".//oai:header/oai:identifier", OAI_NS)]
            token = root.find("oai:ListRecords/oai:resumptionToken", OAI_NS)
            if token is None or not token.text:
                break
            root = request(
                next(clients), oai_schema, {"verb": "ListRecords", "resumptionToken": token.text}
            )
        assert seen == [ident(n) for n in range(25)]
    finally:
        other_db.dispose()


def test_a_long_list_ends_exactly(db, client, oai_schema, clock) -> None:
    """300 records sharing one datestamp: the identifier breaks the ties of the keyset."""
    with db.write() as session:
        store(session, [new_record(n) for n in range(300)])
    collected = harvest(client, oai_schema, "ListIdentifiers", metadataPrefix="oai_dc")
    assert len(collected) == 30
    assert flat(collected) == [ident(n) for n in range(300)]
    assert collected[-1].identifiers == [ident(n) for n in range(290, 300)]
    assert collected[-1].token.get("cursor") == "290"
