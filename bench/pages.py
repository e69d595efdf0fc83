"""The web pages beside the API: `python -m bench.pages` (run by `make bench`).

What a page costs on top of the data it shows, and what the catalogue lookup of the
shipment page costs as the catalogue grows. The machine is shared, so what counts is the
ratio of two figures taken side by side, not an absolute time.

1. bench.exchange.build's ledger (10,000 shipments, 200,000 items) in a database of its
   own (bench/data/pages.sqlite3), a coordinator with a password, three harvest sources
   (for /harvesting), and the 220 demo MARCXML records imported (each file into one
   source's sets) and grown by bench.run.replicate to BENCH_RECORDS (about 100,000); a
   copy of the catalogue grown to BENCH_SMALL_RECORDS (about 10,000) beside it.
2. In-process, one thread, after a warm-up (Flask test client, no HTTP; a signed-in
   session for the pages, a viewer's bearer token for /api/v1): each page, and beside it
   the API request(s) that read the same data, *alternated* request by request so that
   both meet the same machine. p50/p99 of wall time, mean CPU time (time.process_time,
   which other load on the machine moves least), and page/API ratios: what rendering HTML
   (templates, labels, session, the page's extra reads) costs on top of the data.
   The reports page also on a cache miss: the ledger's change counter is bumped before
   each request (outside the timing), as any ledger write would.
3. libfed.exchange.lookup.by_isbn and search at both catalogue sizes: they LIKE-scan the stored
   oai_dc of every record until they have enough hits, so what is absent (and, in a real
   catalogue, what occurs once) costs a scan of everything.
4. cProfile of any page over ~50 ms CPU or ~3x its API, figures to bench/data/pages.json.

Knobs: BENCH_RECORDS (100000), BENCH_SMALL_RECORDS (10000), BENCH_N (200 requests per
figure at most), BENCH_PAGE_SECONDS (8: the time one figure may take; slow ones get fewer
requests, at least 10).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import re
import shutil
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from sqlalchemy import func, select

from libfed.accounts.users import add_user, set_password
from libfed.exchange import lookup as catalogue
from libfed.harvest.aggregate import source_sets
from libfed.harvest.sources import add_source
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.records.importer import import_files
from libfed.records.models import Record

from . import exchange
from .exchange import API, REPORT_YEAR, percentile
from .run import DATA, replicate

RECORDS = int(os.environ.get("BENCH_RECORDS", "100000"))
SMALL_RECORDS = int(os.environ.get("BENCH_SMALL_RECORDS", "10000"))
N = int(os.environ.get("BENCH_N", "200"))
BUDGET = float(os.environ.get("BENCH_PAGE_SECONDS", "8"))
MIN_N, WARMUP = 10, 5
CPU_FINDING_MS, RATIO_FINDING = 50.0, 3.0

DATABASE = DATA / "pages.sqlite3"
SMALL = DATA / "pages-small.sqlite3"
RESULTS = DATA / "pages.json"
DEMO = Path(__file__).resolve().parent.parent / "libfed" / "root" / "demo" / "data"
COORDINATOR, PASSWORD = "bench-coordinator", "bench pages password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ISBN = re.compile(rb"URN:ISBN:([0-9Xx-]+)")
_WORDS = [f"{{http://purl.org/dc/elements/1.1/}}{name}" for name in ("title", "creator", "subject")]


# ------------------------------------------------------------------ the data


def build() -> tuple[Path, dict, str]:
    """The ledger, users, sources and catalogue; returns config, figures, a viewer's token.

    bench.exchange.build writes to its module's DATABASE and TOKEN: pointed here for the
    call, so that the exchange benchmark's own database (and --profile on it) stay as
    they are.
    """
    saved = exchange.DATABASE, exchange.TOKEN
    exchange.DATABASE, exchange.TOKEN = DATABASE, DATA / "pages-token.txt"
    try:
        config = exchange._config()
        ledger, token = exchange.build(config)
    finally:
        exchange.DATABASE, exchange.TOKEN = saved
    for leftover in DATA.glob(f"{SMALL.name}*"):
        leftover.unlink()
    db = Database(f"sqlite:///{DATABASE}")
    files = sorted(DEMO.glob("*.xml"))
    with db.write() as session:
        user, _token = add_user(session, COORDINATOR, "coordinator")
        set_password(session, user, PASSWORD)
        for number, _path in enumerate(files, 1):
            add_source(
                session,
                f"partner-{number}",
                f"https://library{number}.example.org/oai",
                every_seconds=86400,
                institution_id=number,
            )
    repository = load_config(config).oai.repository_identifier
    for number, path in enumerate(files, 1):
        import_files(db, repository, [path], sets=dict.fromkeys(source_sets(f"partner-{number}")))
    with db.session() as session:
        templates = session.scalar(select(func.count()).select_from(Record))
    db.dispose()  # checkpoints: the file alone is the whole database
    shutil.copyfile(DATABASE, SMALL)
    started = time.perf_counter()
    replicate(SMALL, max(1, round(SMALL_RECORDS / templates)))
    replicate(DATABASE, max(1, round(RECORDS / templates)))
    sizes = {name: _records(path) for name, path in (("small", SMALL), ("large", DATABASE))}
    return (
        config,
        {
            **ledger,
            "demo_records": templates,
            "records": sizes,
            "replicate_seconds": round(time.perf_counter() - started, 1),
        },
        token,
    )


def _records(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM records").fetchone()[0]


def bump_ledger() -> None:
    """What any audited write does to the report cache: the change counter moves on."""
    with sqlite3.connect(DATABASE) as connection:
        connection.execute("UPDATE counters SET value = value + 1 WHERE name = 'ledger'")


# ------------------------------------------------------------------ measuring


def _sample(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _figures(samples: list[tuple[float, float]]) -> dict:
    wall = [w for w, _c in samples]
    return {
        "n": len(samples),
        "p50_ms": round(percentile(wall, 50), 2),
        "p99_ms": round(percentile(wall, 99), 2),
        "cpu_mean_ms": round(sum(c for _w, c in samples) / len(samples), 2),
    }


def measure(*calls: Callable[[], object], before: Callable[[], object] | None = None) -> list[dict]:
    """Figures of each call, the calls alternated round by round (so that a slow spell of
    the machine falls on all of them); as many rounds as BUDGET allows, N at most."""

    def round_() -> list[tuple[float, float]]:
        out = []
        for call in calls:
            if before is not None:
                before()
            out.append(_sample(call))
        return out

    started = time.perf_counter()
    for _ in range(WARMUP):
        round_()
    per_round = (time.perf_counter() - started) / WARMUP
    n = max(MIN_N, min(N, int(BUDGET / per_round)))
    rounds = [round_() for _ in range(n)]
    return [_figures([r[i] for r in rounds]) for i in range(len(calls))]


def _get(client, path: str, headers: dict | None = None) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    def call() -> object:
        response = client.get(path, headers=headers or {})
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        return response

    return call


def _all(*calls: Callable[[], object]) -> Callable[[], object]:
    return lambda: [call() for call in calls]


def signed_in(app):  # type: ignore[no-untyped-def]
    """A coordinator's browser session, signed in as tests/conftest.py's WebClient does."""
    client = app.test_client()
    token = _CSRF.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    answer = client.post(
        "/sign-in", data={"name": COORDINATOR, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.data[:300]
    return client


def _choices(db: Database) -> dict:
    """A shipment of 20 items (or the nearest count) and the partner with most shipments."""
    with db.engine.connect() as connection:
        shipment = connection.exec_driver_sql(
            "SELECT shipment_id, count(*) FROM shipment_items GROUP BY shipment_id "
            "ORDER BY abs(count(*) - 20), shipment_id LIMIT 1"
        ).one()
        partner = connection.exec_driver_sql(
            "SELECT partner_id, count(*) FROM shipments GROUP BY partner_id "
            "ORDER BY count(*) DESC LIMIT 1"
        ).one()
        record = connection.exec_driver_sql(
            "SELECT identifier FROM records WHERE NOT deleted ORDER BY id LIMIT 1"
        ).scalar_one()
    return {
        "record": record,
        "shipment": shipment[0],
        "shipment_items": shipment[1],
        "partner": partner[0],
        "partner_shipments": partner[1],
    }


def pages(config: Path, token: str) -> tuple[dict, dict]:
    """Each page and, where /api/v1 reads the same data, the API beside it."""
    from libfed.kernel.services import services
    from libfed.root.app import create_app

    app = create_app(load_config(config))
    web, api = signed_in(app), app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    chosen = _choices(services(app).db)
    s, p = chosen["shipment"], chosen["partner"]

    def rest(*paths: str) -> Callable[[], object]:
        return _all(*(_get(api, API + path, bearer) for path in paths))

    record = quote(chosen["record"], safe=":")

    reports = rest(f"/reports/balance?year={REPORT_YEAR}", f"/reports/countries?year={REPORT_YEAR}")
    cases: list[tuple[str, str, str | None, Callable[[], object] | None, bool]] = [
        # (label, page path, what the API side is, the API call(s), a report cache miss)
        ("dashboard", "/", None, None, False),
        ("partners", "/partners", None, None, False),
        (
            f"partner {p} ({chosen['partner_shipments']} shipments)",
            f"/partners/{p}",
            None,
            None,
            False,
        ),
        ("shipments, page 1", "/shipments", "shipments", rest("/shipments"), False),
        (
            "shipments, page 5",
            "/shipments?page=5",
            "shipments?page=5",
            rest("/shipments?page=5"),
            False,
        ),
        (
            f"shipments, year {REPORT_YEAR}",
            f"/shipments?year={REPORT_YEAR}",
            f"shipments?year={REPORT_YEAR}",
            rest(f"/shipments?year={REPORT_YEAR}"),
            False,
        ),
        (
            "shipments, incoming received",
            "/shipments?direction=incoming&status=received",
            "same filters",
            rest("/shipments?direction=incoming&status=received"),
            False,
        ),
        (
            f"shipments, partner {p}",
            f"/shipments?partner_id={p}",
            "same filter",
            rest(f"/shipments?partner_id={p}"),
            False,
        ),
        (
            f"shipment {s} ({chosen['shipment_items']} items)",
            f"/shipments/{s}",
            "shipment + items + history (3)",
            rest(f"/shipments/{s}", f"/shipments/{s}/items", f"/shipments/{s}/history"),
            False,
        ),
        (
            "packing list",
            f"/shipments/{s}/packing-list",
            "shipment + items (2)",
            rest(f"/shipments/{s}", f"/shipments/{s}/items"),
            False,
        ),
        (
            f"reports {REPORT_YEAR}, cache hit",
            f"/reports?year={REPORT_YEAR}",
            "balance + countries (2)",
            reports,
            False,
        ),
        (
            f"reports {REPORT_YEAR}, cache miss",
            f"/reports?year={REPORT_YEAR}",
            "balance + countries (2), miss",
            reports,
            True,
        ),
        (
            f"reports {REPORT_YEAR - 4}-{REPORT_YEAR} by year",
            f"/reports/years?first={REPORT_YEAR - 4}&last={REPORT_YEAR}",
            "the same years",
            rest(f"/reports/years?first={REPORT_YEAR - 4}&last={REPORT_YEAR}"),
            False,
        ),
        (
            "record page",
            f"/records/{record}",
            "GetRecord oai_dc",
            _get(api, f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={record}"),
            False,
        ),
        ("harvesting (3 sources)", "/harvesting", None, None, False),
    ]
    rows = []
    for label, path, api_label, api_call, miss in cases:
        calls = [_get(web, path)] + ([api_call] if api_call else [])
        figures = measure(*calls, before=bump_ledger if miss else None)
        row = {"page": label, "path": path, "web": figures[0]}
        if api_call:
            row |= {
                "api": api_label,
                "api_figures": figures[1],
                "ratio_p50": round(figures[0]["p50_ms"] / figures[1]["p50_ms"], 2),
                "ratio_cpu": round(figures[0]["cpu_mean_ms"] / figures[1]["cpu_mean_ms"], 2),
            }
        rows.append(row)
        print(_line(row), flush=True)
    flagged = [
        r
        for r in rows
        if r["web"]["cpu_mean_ms"] > CPU_FINDING_MS or r.get("ratio_cpu", 0) > RATIO_FINDING
    ]
    profiles = {
        r["page"]: profile(_get(web, r["path"]), bump_ledger if "miss" in r["page"] else None)
        for r in flagged
    }
    return {"chosen": chosen, "rows": rows}, profiles


def profile(call: Callable[[], object], before: Callable[[], object] | None, n: int = 30) -> str:
    """The top functions of n requests under cProfile, by own time and by cumulative time."""
    for _ in range(WARMUP):
        call()
    profiler = cProfile.Profile()
    for _ in range(n):
        if before is not None:
            before()
        profiler.enable()
        call()
        profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(12)
    stats.sort_stats("cumulative").print_stats(30)
    return text.getvalue()


# ------------------------------------------------------------------ the catalogue


def _samples(db: Database) -> dict[str, str]:
    """From the demo records' oai_dc: ISBNs stored as ISBN-13 (two kinds) and ISBN-10, the
    most frequent longer word of titles, creators and subjects and one of a single
    record; an absent ISBN and word."""
    with db.engine.connect() as connection:
        templates = [
            xml
            for (xml,) in connection.exec_driver_sql(
                "SELECT f.body_xml FROM record_formats f JOIN records r ON r.id = f.record_id "
                "WHERE f.prefix = 'oai_dc' AND r.identifier NOT LIKE '%.r%' ORDER BY r.id"
            )
        ]
    digits = [
        m.group(1).decode().replace("-", "") for xml in templates for m in _ISBN.finditer(xml)
    ]
    records: Counter[str] = Counter()
    for xml in templates:
        text = " ".join(e.text or "" for e in etree.fromstring(xml).iter(*_WORDS))
        records.update({w for w in re.findall(r"[^\W\d_]{6,}", text) if w.isascii()})
    return {
        # by_isbn tries the ISBN-10 form first when it sorts first: 978-5... (5...) does,
        # 978-99... (99...) does not
        "isbn13": next(i for i in digits if len(i) == 13 and i.startswith("97899")),
        "isbn13_10_first": next(i for i in digits if len(i) == 13 and i[3] < "9"),
        "isbn10": next(i for i in digits if len(i) == 10),
        "absent": "9780000000002",
        "common": records.most_common(1)[0][0],
        "rare": next(
            w
            for w, n in sorted(records.items())  # LIKE sees the raw XML
            if n == 1 and sum(w.lower().encode() in x.lower() for x in templates) == 1
        ),
        "none": "zyxwvutsrq",
    }


def catalogue_times() -> dict:
    """by_isbn and search on the small and the large catalogue."""
    out: dict = {}
    for size, path in (("small", SMALL), ("large", DATABASE)):
        db = Database(f"sqlite:///{path}")
        words = _samples(db)
        cases = {
            f"by_isbn, present (stored as ISBN-13 {words['isbn13']})": ("isbn", words["isbn13"]),
            f"by_isbn, present (stored as ISBN-13 {words['isbn13_10_first']})": (
                "isbn",
                words["isbn13_10_first"],
            ),
            f"by_isbn, present (stored as ISBN-10 {words['isbn10']})": ("isbn", words["isbn10"]),
            f"by_isbn, absent ({words['absent']})": ("isbn", words["absent"]),
            f"search, common word ({words['common']})": ("search", words["common"]),
            f"search, rare word ({words['rare']})": ("search", words["rare"]),
            f"search, word in no record ({words['none']})": ("search", words["none"]),
        }
        figures = {"records": _records(path)}
        with db.session() as session:
            for label, (kind, value) in cases.items():

                def call(kind: str = kind, value: str = value) -> object:
                    if kind == "isbn":
                        return catalogue.by_isbn(session, value)
                    return catalogue.search(session, value)

                found = call()
                hits = (found is not None) if kind == "isbn" else len(found)  # type: ignore[arg-type]
                figures[label] = measure(call)[0] | {"found": hits}
                print(size, figures["records"], label, figures[label], flush=True)
        db.dispose()
        out[size] = figures
    return out


# ------------------------------------------------------------------ the run


def _line(row: dict) -> str:
    web = row["web"]
    text = (
        f"{row['page']:<42} n={web['n']:<4} p50 {web['p50_ms']:8.2f}  p99 {web['p99_ms']:8.2f}"
        f"  CPU {web['cpu_mean_ms']:8.2f} ms"
    )
    if "api" in row:
        a = row["api_figures"]
        text += (
            f" | API {row['api']:<32} p50 {a['p50_ms']:7.2f}  CPU {a['cpu_mean_ms']:7.2f} ms"
            f" | page/API p50 {row['ratio_p50']:5.2f}x  CPU {row['ratio_cpu']:5.2f}x"
        )
    return text


def main() -> None:
    DATA.mkdir(exist_ok=True)
    print(f"building the ledger and a {RECORDS}-record catalogue ...", flush=True)
    config, data, token = build()
    print(data, flush=True)
    results: dict = {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "data": data,
        "setup": {"n_max": N, "seconds_per_figure": BUDGET, "warmup": WARMUP},
    }
    results["pages"], results["profiles"] = pages(config, token)
    results["catalogue"] = catalogue_times()
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print()
    for row in results["pages"]["rows"]:
        print(_line(row))
    print()
    for size in ("small", "large"):
        figures = results["catalogue"][size]
        for label, f in figures.items():
            if label != "records":
                print(
                    f"{figures['records']:>7} records  {label:<58} p50 {f['p50_ms']:9.2f} ms"
                    f"  CPU {f['cpu_mean_ms']:9.2f} ms  n={f['n']}  found={f['found']}"
                )
    for label, text in results["profiles"].items():
        print(f"\n=== cProfile: {label} ===\n{text}")
    print(f"figures in {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
