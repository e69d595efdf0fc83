"""PostgreSQL's plans for the hot queries at a million records: `python -m bench.explain`.

SQLite's plans say little about PostgreSQL's: its planner takes a sequential scan
whenever its statistics make one look cheaper, so an index that serves SQLite well
may go unused there. This

1. (re)creates a PostgreSQL database, migrates it, imports the 220 demo records into
   their demo sets and grows them in SQL to BENCH_RECORDS records (copies under new
   identifiers, datestamps spread over ten years), then fills the 10,000-shipment
   ledger with bench.exchange's generators and an audit trail, and VACUUM ANALYZEs;
2. runs the code that serves each hot request (the OAI lists and counts, GetRecord,
   the exchange reports, the shipment list, the dashboard, the audit history),
   catches the SQL it sends with its bound values, and has PostgreSQL
   EXPLAIN (ANALYZE, BUFFERS) each statement as sent, then once more as the generic
   plan a prepared statement gets (psycopg prepares a statement on its fifth
   execution, and PostgreSQL may then settle on a plan made without the values);
3. fails (exit status 1) when a hot statement's plan has a Seq Scan on a big table
   (BIG), the union catalogue search's included.

Figures go to bench/data/explain.json. Knobs: BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/libfed_bench_explain: dropped and recreated,
through the server's `test` database), BENCH_RECORDS (1000000).
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from os import environ

from psycopg.sql import Literal
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.exchange import attention, reports, shipments
from libfed.exchange import lookup as catalogue
from libfed.exchange.items import TOTAL_COLUMNS, summed_items
from libfed.exchange.models import Agreement, Shipment, ShipmentItem, ShipmentTotal
from libfed.exchange.schemas import ShipmentQuery
from libfed.kernel import audit, clock
from libfed.kernel.db import Database, normalised_url
from libfed.oai import queries
from libfed.oai.tokens import ListState
from libfed.records.importer import import_files
from libfed.root.cli import DEMO_SETS
from libfed.root.migrate import upgrade
from libfed.search.query import LOCAL, SearchQuery, search

from . import exchange as ledger
from .run import DATA

URL = environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/libfed_bench_explain")
RECORDS = int(environ.get("BENCH_RECORDS", "1000000"))
OUT = DATA / "explain.json"
BIG = {
    "records",
    "record_formats",
    "record_sets",
    "search_entries",
    "shipments",
    "shipment_items",
    "shipment_totals",
    "audit_events",
}
# Read whole by the year's and the partner's flows: a year is a fifth of the ledger, so the
# planner reads the ~2.5 rows per shipment straight through (215 pages, 10 ms); forced onto
# shipment_totals_pkey it was no faster (10.2 against 9.3 ms). Shown, not failed: the
# reports are cached per ledger change.
ACCEPTED = {"shipment_totals"}
# The count of a whole-repository list reads every record whichever way: since 0008 made
# record_formats narrower, PostgreSQL hashes a parallel Seq Scan of records against the
# index-only scan of record_formats_pkey instead of walking the keyset index too; forced
# onto the index (enable_seqscan = off) it took 734 and 842 ms against 875 and 593 ms:
# the same cost. Shown, not failed; any narrower list (from/until, a set) uses indexes.
ACCEPTED_PER_QUERY = {"count (completeListSize)": {"records"}}
REPOSITORY = "bench.libfed.org"
SET = "demo:local"  # 24 of the 220 demo records: a set of ~11% of the catalogue
PAGE = 501  # the provider's page_size (500) and one more, to know whether more follow
SPAN_DAYS = 3650  # the copies' datestamps run from 2015 over ten years
CHUNK = 100_000  # records copied per statement


# ------------------------------------------------------------------ the database


def _recreate(url: str) -> bool:
    """Drop and create the database, from the server's `test` database; False when no
    server answers at the default address (`make bench` on a machine without one)."""
    name = make_url(url).database
    admin = make_url(normalised_url(url)).set(database="test")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        connection = engine.connect()
    except OperationalError:
        if "BENCH_POSTGRES_URL" in environ:
            raise
        return False
    with connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return True


def _import_demo(db: Database) -> None:
    data = resources.files("libfed.root.demo") / "data"
    for name, (spec, set_name, _description) in DEMO_SETS.items():
        with resources.as_file(data / name) as path:
            import_files(db, REPOSITORY, [path], sets={spec: set_name})


# One statement per chunk: `plan` numbers the copies (k) and gives each a new id, an
# identifier and a datestamp; the records, their formats, their set memberships and their
# search entries are copied from it, with the new identifier written into the stored
# header (as bench.run does). Each copy is an edition of its own: grouping 4,500 copies
# of a demo record into one edition would be no catalogue's shape.
_GROW = """
WITH plan AS MATERIALIZED (
    SELECT r.id AS old_id, r.identifier AS old_identifier, g.n * :stride + r.id AS id,
           r.identifier || '~' || g.n AS identifier,
           timestamp '2015-01-01' + ((g.n - 1) * :base + r.rank) * CAST(:step AS float8) * interval '1 second'
               AS datestamp
    FROM (SELECT id, identifier, row_number() OVER (ORDER BY id) - 1 AS rank FROM records
          WHERE id <= :stride) r
    CROSS JOIN generate_series(CAST(:first AS integer), CAST(:last AS integer)) g(n)
    WHERE (g.n - 1) * :base + r.rank < :extra
),
new_records AS (
    INSERT INTO records (id, identifier, datestamp, deleted, content_hash, header_xml)
    SELECT p.id, p.identifier, p.datestamp, r.deleted, r.content_hash,
           convert_to(replace(convert_from(r.header_xml, 'UTF8'), p.old_identifier,
                              p.identifier), 'UTF8')
    FROM plan p JOIN records r ON r.id = p.old_id
    ORDER BY p.id
),
new_formats AS (
    INSERT INTO record_formats (record_id, prefix, body_xml)
    SELECT p.id, f.prefix, f.body_xml
    FROM plan p JOIN record_formats f ON f.record_id = p.old_id
    ORDER BY p.id, f.prefix
),
new_entries AS (
    INSERT INTO search_entries (record_id, source, title, author, year, language, isbn,
                                edition_key, title_key, author_key, subject_key, other_key)
    SELECT p.id, e.source, e.title, e.author, e.year, e.language, e.isbn,
           left(e.edition_key, 240) || '~' || p.id, e.title_key, e.author_key, e.subject_key,
           e.other_key
    FROM plan p JOIN search_entries e ON e.record_id = p.old_id
    ORDER BY p.id
)
INSERT INTO record_sets (set_spec, record_id, datestamp, identifier)
SELECT s.set_spec, p.id, p.datestamp, p.identifier
FROM plan p JOIN record_sets s ON s.record_id = p.old_id
"""


def _grow(db: Database, wanted: int) -> None:
    """Copy the imported records until there are `wanted`: the copies' ids follow the
    originals' (new id = n * stride + old id), so no mapping table is needed."""
    with db.engine.begin() as connection:
        base, stride = connection.execute(text("SELECT count(*), max(id) FROM records")).one()
    extra = max(0, wanted - base)
    copies = math.ceil(extra / base)
    step = SPAN_DAYS * 86400 / max(extra, 1)
    per_chunk = max(1, CHUNK // base)
    for first in range(1, copies + 1, per_chunk):
        with db.engine.begin() as connection:
            connection.execute(
                text(_GROW),
                {
                    "stride": stride,
                    "base": base,
                    "step": step,
                    "extra": extra,
                    "first": first,
                    "last": min(copies, first + per_chunk - 1),
                },
            )
        print(f"  records: {min(wanted, base + (first + per_chunk - 1) * base):,}", flush=True)
    with db.engine.begin() as connection:
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('records', 'id'), max(id)) FROM records")
        )


# The audit trail the ledger would have: a create per shipment and item, a transition
# per state a shipment reached (what exchange.shipments and exchange.items record).
_AUDIT = """
INSERT INTO audit_events (at, actor, entity, entity_id, group_id, action, to_status, changes)
SELECT at, 'bench', entity, entity_id, group_id, action, to_status, '{}' FROM (
    SELECT created_at AS at, 'shipment' AS entity, id AS entity_id, id AS group_id,
           'create' AS action, NULL AS to_status FROM shipments
    UNION ALL
    SELECT created_at, 'item', id, shipment_id, 'create', NULL FROM shipment_items
    UNION ALL
    SELECT t.at, 'shipment', s.id, s.id, 'transition', t.state FROM shipments s
    CROSS JOIN LATERAL (VALUES ('packed', s.packed_at), ('dispatched', s.dispatched_at),
        ('delivered', s.delivered_at), ('acknowledged', s.acknowledged_at),
        ('lost', s.lost_at), ('returned', s.returned_at), ('received', s.received_at),
        ('accessioned', s.accessioned_at), ('cancelled', s.cancelled_at)) t(state, at)
    WHERE t.at IS NOT NULL
) events ORDER BY at
"""


def _fill_ledger(db: Database) -> None:
    """bench.exchange's ledger (same generators, same seed), written to PostgreSQL."""
    rng = random.Random(20261123)
    partners = ledger._partners(rng)
    agreements, current = ledger._agreements(rng, partners)
    rows = ledger._shipments(rng, partners, current)
    counts = ledger._item_counts(rng, rows)
    by_id = {p["id"]: p for p in partners}
    with db.engine.begin() as connection:
        connection.execute(insert(Institution), partners)
        connection.execute(insert(Agreement), agreements)
        connection.execute(insert(Shipment), rows)
        items: list[dict] = []
        for shipment, count in zip(rows, counts, strict=True):
            items += ledger._items(
                rng, shipment, by_id[shipment["partner_id"]], count, len(items) + 1
            )
        connection.execute(insert(ShipmentItem), items)
        connection.execute(insert(ShipmentTotal).from_select(TOTAL_COLUMNS, summed_items()))
        connection.execute(text(_AUDIT))
        for table in ("institutions", "agreements", "shipments", "shipment_items", "audit_events"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )


def build(db: Database) -> dict:
    started = time.perf_counter()
    upgrade(db)
    _import_demo(db)
    _grow(db, RECORDS)
    grown = time.perf_counter()
    _fill_ledger(db)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum leaves a settled database
        figures = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in (
                "records",
                "record_formats",
                "record_sets",
                "shipments",
                "shipment_items",
                "shipment_totals",
                "audit_events",
            )
        }
        size = connection.scalar(text("SELECT pg_database_size(current_database())"))
    return {
        **figures,
        "catalogue_seconds": round(grown - started, 1),
        "build_seconds": round(time.perf_counter() - started, 1),
        "database_mb": round(size / 2**20),
    }


# ------------------------------------------------------------------ the plans


@contextmanager
def _sent(db: Database):  # type: ignore[no-untyped-def]
    """The statements (SQL, parameters) the code in the block sends to the server."""
    statements: list[tuple[str, dict]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def _nodes(plan: dict):  # type: ignore[no-untyped-def]
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _shape(plan: dict) -> str:
    """The plan tree in one line: `Limit(Nested Loop(Index Scan ix_…, …))`."""
    name = plan["Node Type"]
    on = plan.get("Index Name") or plan.get("Relation Name")
    label = f"{name} {on}" if on else name
    children = [_shape(child) for child in plan.get("Plans", ())]
    return f"{label}({', '.join(children)})" if children else label


def _seq_scans(plan: dict) -> list[str]:
    return sorted(
        {
            node["Relation Name"]
            for node in _nodes(plan)
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG
        }
    )


def _generic(connection, statement: str, parameters: dict) -> dict:  # type: ignore[no-untyped-def]
    """The plan PostgreSQL makes for the statement prepared, without its values."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")
    raw = connection.connection.dbapi_connection  # no parameters: no placeholders parsed
    raw.execute("SET plan_cache_mode = force_generic_plan")
    raw.execute(f"PREPARE bench_generic AS {prepared}")
    try:
        arguments = ", ".join(Literal(parameters[name]).as_string(raw) for name in names)
        execute = f"EXECUTE bench_generic({arguments})" if names else "EXECUTE bench_generic"
        return raw.execute(f"EXPLAIN (FORMAT JSON) {execute}").fetchone()[0][0]["Plan"]
    finally:
        raw.execute("DEALLOCATE bench_generic")
        raw.execute("RESET plan_cache_mode")


def explain(db: Database, name: str, run: Callable[[Session], object], runs: int = 2) -> list[dict]:
    """Run `run` (the application's own call) and EXPLAIN each statement it sent; the
    figures are of the last of `runs` runs (the first warms the cache)."""
    with _sent(db) as statements, Session(db.engine) as session:
        run(session)
        session.rollback()
    found = []
    with db.engine.connect() as connection:
        for number, (statement, parameters) in enumerate(statements, 1):
            for _ in range(runs):
                result = connection.exec_driver_sql(  # TIMING OFF: no clock read per row
                    f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) {statement}", parameters
                ).scalar()[0]
            plan = result["Plan"]
            generic = _generic(connection, statement, parameters)
            # PostgreSQL keeps planning a prepared statement per execution unless the generic
            # plan costs less than a custom one plus its planning (1000 cpu_operator_cost a
            # relation, plancache.c); only then can a Seq Scan in the generic plan be run.
            relations = sum(1 for node in _nodes(plan) if "Relation Name" in node)
            generic_used = generic["Total Cost"] < plan["Total Cost"] + 2.5 * (relations + 1)
            found.append(
                {
                    "query": name
                    if len(statements) == 1
                    else f"{name} [{number}/{len(statements)}]",
                    "shape": _shape(plan),
                    "ms": round(result["Execution Time"], 2),
                    "hit": plan.get("Shared Hit Blocks", 0),
                    "read": plan.get("Shared Read Blocks", 0),
                    "rows": plan.get("Actual Rows"),
                    "seq_scans": _seq_scans(plan),
                    "cost": plan["Total Cost"],
                    "generic_shape": _shape(generic),
                    "generic_cost": generic["Total Cost"],
                    "generic_used": generic_used,
                    "generic_seq_scans": _seq_scans(generic),
                    "sql": statement,
                    "parameters": {k: str(v) for k, v in (parameters or {}).items()},
                }
            )
        connection.rollback()
    return found


def _key_at(db: Database, fraction: float, set_spec: str | None) -> tuple[datetime, str]:
    """The (datestamp, identifier) `fraction` of the way through a list: a deep page's start."""
    table = "record_sets WHERE set_spec = :set" if set_spec else "records"
    with db.engine.connect() as connection:
        total = connection.scalar(text(f"SELECT count(*) FROM {table}"), {"set": set_spec})
        return tuple(
            connection.execute(  # type: ignore[return-value]
                text(
                    f"SELECT datestamp, identifier FROM {table} "
                    "ORDER BY datestamp, identifier OFFSET :skip LIMIT 1"
                ),
                {"set": set_spec, "skip": int(total * fraction)},
            ).one()
        )


def hot_cases(db: Database) -> dict[str, Callable[[Session], object]]:
    """Each hot request's calls, with values as a harvester or a coordinator sends them."""
    now = clock.utc_now()  # the provider's `until`, frozen at a list's first request
    deep, deep_in_set = _key_at(db, 0.9, None), _key_at(db, 0.9, SET)
    with db.engine.connect() as connection:
        identifier = connection.scalar(
            text("SELECT identifier FROM records ORDER BY id OFFSET :k LIMIT 1"),
            {"k": RECORDS // 2},
        )
        partner = connection.scalar(
            text("SELECT partner_id FROM shipments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )
        shipment = connection.scalar(
            text("SELECT shipment_id FROM shipment_items GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )

    def state(set_spec=None, lower=None, upper=now, after=None):  # type: ignore[no-untyped-def]
        return ListState("ListRecords", "oai_dc", set_spec, lower, upper, after, 0, 0)

    year_from, year_until = datetime(2020, 1, 1), datetime(2020, 12, 31, 23, 59, 59)
    lists = {
        "first page": state(),
        "page at 90%": state(after=deep),
        "from/until 2020, first page": state(lower=year_from, upper=year_until),
        f"set {SET}, first page": state(SET),
        f"set {SET}, page at 90%": state(SET, after=deep_in_set),
    }
    cases: dict[str, Callable[[Session], object]] = {}
    for label, listed in lists.items():
        for verb, metadata in (("ListIdentifiers", False), ("ListRecords", True)):
            cases[f"{verb} {label}"] = lambda s, listed=listed, metadata=metadata: queries.page(
                s, listed, PAGE, metadata
            )
    cases["count (completeListSize)"] = lambda s: queries.count(s, state())
    cases["count, from/until 2020"] = lambda s: queries.count(
        s, state(lower=year_from, upper=year_until)
    )
    cases[f"count, set {SET}"] = lambda s: queries.count(s, state(SET))
    cases["GetRecord: record"] = lambda s: queries.record_format(
        s, queries.record(s, identifier).id, "oai_dc"
    )  # type: ignore[union-attr]
    cases["resumption: datestamp_of"] = lambda s: queries.datestamp_of(s, identifier)
    year, home, end = ledger.REPORT_YEAR, ledger.HOME, ledger.END
    cases[f"balance {year}"] = lambda s: reports.balance(s, year, home)
    cases[f"countries {year}"] = lambda s: reports.countries(s, year, home)
    cases[f"months {year}"] = lambda s: reports.months(s, year)
    cases["partner flows by year"] = lambda s: reports.flows_by_year(s, partner)
    for label, filters in (
        ("first page", {}),
        ("status dispatched", {"status": "dispatched"}),
        ("one partner", {"partner_id": partner}),
        (f"year {year}", {"year": year}),
    ):
        cases[f"shipment list, {label}"] = lambda s, filters=filters: shipments.with_totals(
            s, shipments.list_shipments(s, ShipmentQuery(**filters))[0]
        )
    cases["dashboard: waiting"] = lambda s: attention.waiting(s.connection(), end)
    cases["audit: shipment history"] = lambda s: shipments.shipment_history(s, shipment)
    cases["audit: shipment's own events"] = lambda s: audit.history(s, "shipment", shipment)
    cases["search: word in no record"] = lambda s: catalogue.search(s, "Zyzzyvaquux")
    cases["search: ISBN in no record"] = lambda s: catalogue.by_isbn(s, "9780306406157")
    cases["search: a demo title word"] = lambda s: search(s, SearchQuery("Koroğlu"))
    cases["search: Cyrillic, filtered"] = lambda s: search(
        s, SearchQuery("Кутубхона", source=LOCAL, language="uzb", year_from=1900, year_to=2030)
    )
    return cases


# ------------------------------------------------------------------ the report


def table(rows: list[dict]) -> str:
    lines = [
        "| query | plan | ms | buffers hit/read | Seq Scan | prepared (generic) plan Seq Scan |",
        "|---|---|---:|---:|---|---|",
    ]
    for row in rows:
        seq = ", ".join(row["seq_scans"]) or "no"
        generic = ", ".join(row["generic_seq_scans"]) or "no"
        if row["generic_seq_scans"]:
            generic += (
                " (would be used)"
                if row["generic_used"]
                else (f" (not used: costs {row['generic_cost']:.0f} > {row['cost']:.0f})")
            )
        lines.append(
            f"| {row['query']} | `{row['shape']}` | {row['ms']} | "
            f"{row['hit']}/{row['read']} | {seq} | {generic} |"
        )
    return "\n".join(lines)


def _reuse(url: str) -> dict | None:
    """With BENCH_EXPLAIN_KEEP=1: the database of the last run, brought to the current
    schema (a migration's effect on the plans, without the seven-minute build)."""
    if environ.get("BENCH_EXPLAIN_KEEP") != "1" or not OUT.exists():
        return None
    db = Database(url)
    try:
        upgrade(db)
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        db.dispose()
    return json.loads(OUT.read_text())["build"] | {"reused": True}


def main() -> None:
    built = _reuse(URL)
    if built is None:
        if not _recreate(URL):
            print(f"no PostgreSQL at {make_url(URL).set(database='test')}: plans not checked")
            return
        db = Database(URL)
        print(f"building {make_url(URL).database}: {RECORDS:,} records and the ledger", flush=True)
        built = build(db)
        db.dispose()
    db = Database(URL)
    print(json.dumps(built), flush=True)
    hot = [row for name, run in hot_cases(db).items() for row in explain(db, name, run)]
    db.dispose()

    def refused(row: dict, scans: list[str]) -> set[str]:
        return set(scans) - ACCEPTED - ACCEPTED_PER_QUERY.get(row["query"], set())

    failures = [
        row["query"]
        for row in hot
        if refused(row, row["seq_scans"])
        or (row["generic_used"] and refused(row, row["generic_seq_scans"]))
    ]
    DATA.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"build": built, "hot": hot, "failures": failures}, indent=1))
    print("\nHot queries\n\n" + table(hot))
    print(f"\nfigures in {OUT}")
    if failures:
        print("Seq Scan on a hot path: " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
