"""PostgreSQL beside SQLite: `python -m bench.postgres` (a step of `make bench`).

bench.run's OAI figures and bench.exchange's load figures, on the same data, taken on
SQLite and on PostgreSQL in one run, so that PostgreSQL / SQLite is a ratio of one
machine state (this machine is shared; absolute times move between runs):

1. OAI, BENCH_RECORDS (100,000): `libfed import` of bench.run's generated file into a
   fresh SQLite file and a fresh PostgreSQL database, each timed (bench.run's
   import_records); then VACUUM ANALYZE on PostgreSQL (the
   local server runs without autovacuum, which would otherwise come and go during the harvests). Both served by
   bench.run's libfed_server, up side by side, harvested in alternation ROUNDS times after
   a warm-up each (as measure_against_floor alternates libfed and the floor); medians,
   page latencies, peak RSS of the server, and of PostgreSQL's backends beside it (the
   database's memory is outside libfed's process tree there, inside it on SQLite).
2. Exchange API: bench.exchange.build on SQLite, bench.explain's ledger fill on
   PostgreSQL (the same generators and seed), each served by `libfed serve --workers 2`
   and loaded by bench.exchange.serve_and_load (closed loop, then open loop at half of
   it) for the shipment list and the balance, SQLite first; in-process times beside.
3. OAI, BENCH_LARGE_RECORDS (1,000,000): PostgreSQL grown in SQL by bench.explain's
   _grow, VACUUM ANALYZE, bench.run.measure_large; then SQLite grown by bench.run's
   replicate and measured the same way (last, as it is the longest and the one figure
   bench.run also takes).

Figures go to bench/data/postgres.json, rewritten after each step. Knobs: BENCH_POSTGRES
(server URL, default postgresql://postgres@127.0.0.1:5432; databases libfed_bench_oai and
libfed_bench_exchange are dropped and recreated through its `test` database),
BENCH_SECONDS (15 here), bench.run's and bench.exchange's size knobs.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import time
from pathlib import Path

from sqlalchemy import text

from libfed.accounts.users import add_user
from libfed.kernel.db import Database
from libfed.root.migrate import upgrade

from . import exchange as ex
from .client import harvest
from .explain import _fill_ledger, _grow, _recreate
from .generate import write_collection
from .run import (
    DATA,
    LARGE,
    ROUNDS,
    SMALL,
    config_file,
    figures,
    import_records,
    latencies,
    libfed_server,
    measure_large,
    median,
    replicate,
)

SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
OAI_URL = f"{SERVER}/libfed_bench_oai"
EXCHANGE_URL = f"{SERVER}/libfed_bench_exchange"
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
ENDPOINTS = ("shipments", "balance")
OUT = DATA / "postgres.json"


def settle(url: str) -> None:
    """VACUUM ANALYZE: the visibility map and statistics autovacuum would leave."""
    db = Database(url)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()


def backends_mb(url: str) -> dict:
    """Memory of the PostgreSQL backends serving `url`'s database: peak RSS (counts the
    shared buffers they touched) and private (anonymous) RSS now."""
    db = Database(url)
    with db.engine.connect() as connection:
        pids = connection.scalars(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    db.dispose()
    kb = {"VmHWM:": 0, "RssAnon:": 0}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.split(":")[0] + ":" in kb:
                kb[line.split()[0]] += int(line.split()[1])
    return {
        "backends": len(pids),
        "peak_rss_mb": round(kb["VmHWM:"] / 1024, 1),
        "private_rss_mb": round(kb["RssAnon:"] / 1024, 1),
    }


def alternate(configs: dict[str, Path]) -> dict[str, dict]:
    """Every config served at once by libfed and harvested in turn, ROUNDS times after a
    warm-up each: whatever else the machine does meanwhile weighs on all alike."""
    servers = {}
    try:
        for name, config in configs.items():
            servers[name] = libfed_server(config)
            harvest(servers[name].url)
        rounds: dict[str, list] = {name: [] for name in servers}
        for _ in range(ROUNDS):
            for name, server in servers.items():
                rounds[name].append(harvest(server.url))
        results = {}
        for name, server in servers.items():
            h = median(rounds[name])
            results[name] = {
                **figures(h),
                "rounds_seconds": [round(x.seconds, 2) for x in rounds[name]],
                **latencies(server.url, h),
                "peak_server_rss_mb": round(server.peak_rss_mb(), 1),
            }
        results["postgresql"]["postgres_backends"] = backends_mb(OAI_URL)
        return results
    finally:
        for server in servers.values():
            server.stop()


def oai_small(results: dict) -> tuple[Path, Path]:
    source = DATA / f"records-{SMALL}.xml"
    if not source.exists():
        print(f"generating {SMALL} records ...", flush=True)
        write_collection(source, SMALL)
    database = DATA / "postgres-beside.sqlite3"
    for leftover in DATA.glob(f"{database.name}*"):
        leftover.unlink()
    _recreate(OAI_URL)
    configs = {
        "sqlite": config_file(database),
        "postgresql": config_file(DATA / "postgres-oai.toml", OAI_URL),
    }
    results["import_seconds"] = {}
    for name, config in configs.items():
        print(f"importing {SMALL} records into {name} ...", flush=True)
        results["import_seconds"][name] = round(import_records(config, source), 1)
    started = time.perf_counter()
    settle(OAI_URL)
    results["postgresql_vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
    print(
        results["import_seconds"], "\nharvesting SQLite and PostgreSQL alternately ...", flush=True
    )
    results["oai"] = alternate(configs)
    print(json.dumps(results["oai"]), flush=True)
    return database, configs["postgresql"]


def postgres_ledger() -> tuple[dict, str]:
    """bench.exchange's ledger on PostgreSQL: bench.explain's fill (bench.exchange's
    generators and seed, with the totals' int4 widening PostgreSQL needs) without the
    audit trail it adds, which bench.exchange.build has not; a viewer's token."""
    started = time.perf_counter()
    _recreate(EXCHANGE_URL)
    db = Database(EXCHANGE_URL)
    upgrade(db)
    _fill_ledger(db)
    with db.write() as session:
        session.execute(text("TRUNCATE audit_events"))
        _user, token = add_user(session, "bench-viewer", "viewer")
    with db.engine.connect() as connection:
        count = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("shipments", "shipment_items", "shipment_totals")
        }
    db.dispose()
    settle(EXCHANGE_URL)
    return {**count, "build_seconds": round(time.perf_counter() - started, 1)}, token


def exchange(results: dict) -> None:
    print(
        f"building the ledger on SQLite ({ex.SHIPMENTS} shipments, {ex.ITEMS} items) ...",
        flush=True,
    )
    sqlite_data, sqlite_token = ex.build(ex._config())
    paths = ex.endpoint_paths(random.Random(1))
    paths = {endpoint: paths[endpoint] for endpoint in ENDPOINTS}
    print("building it on PostgreSQL ...", flush=True)
    pg_data, pg_token = postgres_ledger()
    assert (pg_data["shipments"], pg_data["shipment_items"], pg_data["shipment_totals"]) == (
        sqlite_data["shipments"],
        sqlite_data["items"],
        sqlite_data["totals"],
    ), (pg_data, sqlite_data)
    pg_config = config_file(DATA / "postgres-exchange.toml", EXCHANGE_URL)
    pg_config.write_text(pg_config.read_text() + "[harvest]\nscheduler = false\n")
    results["exchange"] = {"seconds_per_run": SECONDS}
    for name, config, token, data in (
        ("sqlite", ex._config(), sqlite_token, sqlite_data),
        ("postgresql", pg_config, pg_token, pg_data),
    ):
        print(f"loading the API on {name} ...", flush=True)
        results["exchange"][name] = {
            "data": data,
            **ex.serve_and_load(config, token, paths, ENDPOINTS, SECONDS),
            "in_process": ex.service_times(config, token, paths, n=100),
        }


def oai_large(results: dict, sqlite_small: Path, pg_config: Path) -> None:
    print(f"growing PostgreSQL to {LARGE} records ...", flush=True)
    started = time.perf_counter()
    _grow(Database(OAI_URL), LARGE)
    settle(OAI_URL)
    results["grow_seconds"] = {"postgresql": round(time.perf_counter() - started, 1)}
    results["oai_large"] = {"postgresql": measure_large(pg_config)}
    print(json.dumps(results["oai_large"]), flush=True)
    write(results)
    print(f"growing SQLite to {LARGE} records ...", flush=True)
    started = time.perf_counter()
    large = DATA / "postgres-beside-large.sqlite3"
    for leftover in DATA.glob(f"{large.name}*"):
        leftover.unlink()
    with sqlite3.connect(sqlite_small, isolation_level=None) as connection:
        connection.execute("VACUUM INTO ?", (str(large),))
    replicate(large, LARGE // SMALL)
    results["grow_seconds"]["sqlite"] = round(time.perf_counter() - started, 1)
    results["oai_large"]["sqlite"] = measure_large(config_file(large))
    print(json.dumps(results["oai_large"]["sqlite"]), flush=True)


def write(results: dict) -> None:
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False))


def table(r: dict) -> str:
    """The README's table: one row per figure, SQLite and PostgreSQL side by side."""
    rows = [(f"import of {SMALL:,} records, s", lambda d: r["import_seconds"][d])]
    for key, label in (("oai", f"{SMALL:,}"), ("oai_large", f"{LARGE:,}")):
        rows += [
            (f"OAI {label}: records/s", lambda d, k=key: r[k][d]["records_per_second"]),
            (
                f"OAI {label}: first / second / 90 % page, ms",
                lambda d, k=key: "{} / {} / {}".format(
                    r[k][d]["first_page_ms"], r[k][d]["second_page_ms"], r[k][d]["page_at_90pct_ms"]
                ),
            ),
            (f"OAI {label}: 90 % page / first page", lambda d, k=key: r[k][d]["depth_ratio"]),
            (
                f"OAI {label}: 90 % page / second page",
                lambda d, k=key: r[k][d]["depth_ratio_vs_second_page"],
            ),
            (f"OAI {label}: peak server RSS, MB", lambda d, k=key: r[k][d]["peak_server_rss_mb"]),
        ]
    for endpoint in ENDPOINTS:
        rows += [
            (
                f"{endpoint}: closed loop req/s",
                lambda d, e=endpoint: r["exchange"][d]["closed"][e]["throughput_per_s"],
            ),
            (
                f"{endpoint}: open loop p50 / p99 ms",
                lambda d, e=endpoint: "{} / {}".format(
                    r["exchange"][d]["open"][e]["p50_ms"], r["exchange"][d]["open"][e]["p99_ms"]
                ),
            ),
            (
                f"{endpoint}: libfed CPU ms/request, closed (without PostgreSQL's)",
                lambda d, e=endpoint: r["exchange"][d]["closed"][e]["server_cpu_ms_per_request"],
            ),
            (
                f"{endpoint}: in-process p50 ms",
                lambda d, e=endpoint: r["exchange"][d]["in_process"][e]["p50_ms"],
            ),
        ]
    lines = ["| figure | SQLite | PostgreSQL | PostgreSQL / SQLite |", "|---|---|---|---|"]
    for label, get in rows:
        try:
            cells = [get("sqlite"), get("postgresql")]
        except KeyError:
            continue
        ratio = (
            f"{cells[1] / cells[0]:.2f}x"
            if all(isinstance(c, int | float) for c in cells) and cells[0]
            else ""
        )
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    results: dict = {"date": date, "records": SMALL, "large_records": LARGE, "postgres": SERVER}
    sqlite_small, pg_config = oai_small(results)
    write(results)
    exchange(results)
    write(results)
    if LARGE > SMALL:
        oai_large(results, sqlite_small, pg_config)
        write(results)
    print(table(results))


if __name__ == "__main__":
    main()
