"""`libfed export` at scale: `python -m bench.export` (a step of `make bench`).

1. Data, on SQLite: BENCH_EXPORT_RECORDS (1,000,000) records, each stored in marc21
   (the 222 templates of bench.generate rendered as import stores them, each copy with
   its own 001 and title, `generate.varied`) and in oai_dc (bench.search's works: a
   template's Dublin Core with title words varied and a pseudo-word of its own), every
   tenth in set `tenth`; rows written straight into the tables with sqlite3, as
   bench.search writes its million. The first BENCH_EXPORT_SMALL (100,000) are written,
   measured, then the rest.
2. At each size, `libfed export --format F FILE.gz` for marcxml, oai_dc and jsonl (the
   dumps' gzip files) in a process of its own: records per second over the wall time of
   the whole command (start-up and count included), and the process's peak RSS
   (GNU time's, as bench.harvest measures). Flat memory shows as the same peak at both sizes.

Figures go to bench/results/export.json; a markdown table is printed.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from datetime import datetime, timedelta

from pymarc import parse_xml_to_array

from libfed.kernel.db import Database
from libfed.records.formats import MARC21
from libfed.records.marc_checks import checked
from libfed.records.stored_xml import record_body, render_header
from libfed.root.migrate import upgrade

from . import search
from .generate import templates, varied
from .harvest import _child
from .run import DATA, RESULTS, config_file

RECORDS = int(os.environ.get("BENCH_EXPORT_RECORDS", "1000000"))
SMALL = int(os.environ.get("BENCH_EXPORT_SMALL", "100000"))
FORMATS = ("marcxml", "oai_dc", "jsonl")
SQLITE = DATA / "export.sqlite3"
OUT = RESULTS / "export.json"
CHUNK = 5_000


def _marc_pool() -> list[str]:
    """The templates as marc21 stores them (namespaced MARCXML, as import renders)."""
    pool = []
    for template in templates():
        collection = f'<collection xmlns="http://www.loc.gov/MARC21/slim">{template}</collection>'
        record = parse_xml_to_array(io.StringIO(collection))[0]
        pool.append(MARC21.render(checked(record, str(record.leader))))
    return pool


def _rows(first: int, count: int, pool: list[str]) -> tuple[list, list, list]:
    """Record, format and membership rows of records first .. first + count - 1."""
    records, formats, members = [], [], []
    for record_id in range(first, first + count):
        identifier = f"oai:bench.libfed.org:bench{record_id:07d}"
        datestamp = datetime(2020, 1, 1) + timedelta(seconds=record_id * 97)
        sets = ("tenth",) if record_id % 10 == 0 else ()
        stamp = datestamp.isoformat(sep=" ")
        header = render_header(identifier, datestamp, False, sets)
        records.append((record_id, identifier, stamp, False, f"{record_id:064x}", header))
        marc = varied(pool, record_id).encode()
        dc = search._oai_dc(search._work(record_id)[1]).encode()
        formats += [
            (record_id, "marc21", record_body(marc)),
            (record_id, "oai_dc", record_body(dc)),
        ]
        members += [(spec, record_id, stamp, identifier) for spec in sets]
    return records, formats, members


def fill(first: int, last: int) -> float:
    """Records first .. last written; the seconds it took."""
    started = time.perf_counter()
    search._setup()
    pool = _marc_pool()
    with sqlite3.connect(SQLITE, isolation_level=None) as lite:
        lite.execute("PRAGMA synchronous = OFF")
        lite.execute("BEGIN")
        for start in range(first, last + 1, CHUNK):
            records, formats, members = _rows(start, min(CHUNK, last + 1 - start), pool)
            lite.executemany(
                "INSERT INTO records (id, identifier, datestamp, deleted, content_hash, "
                "header_xml) VALUES (?, ?, ?, ?, ?, ?)",
                records,
            )
            lite.executemany("INSERT INTO record_formats VALUES (?, ?, ?)", formats)
            lite.executemany(
                "INSERT INTO record_sets (set_spec, record_id, datestamp, identifier) "
                "VALUES (?, ?, ?, ?)",
                members,
            )
        lite.execute("COMMIT")
        lite.execute("ANALYZE")
    return time.perf_counter() - started


def _prepare() -> None:
    for leftover in DATA.glob(f"{SQLITE.name}*"):
        leftover.unlink()
    database = Database(f"sqlite:///{SQLITE}")
    upgrade(database)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO sets (spec, name) VALUES ('tenth', 'tenth')")
    database.dispose()


def measure(name: str, records: int) -> dict:
    """One `libfed export` of every record in format `name`, in a process of its own."""
    target = DATA / f"export-{name}.gz"
    command = [
        "from libfed.root.cli import main; main()",
        "--config",
        str(config_file(SQLITE)),
        "export",
        "--format",
        name,
        str(target),
    ]
    seconds, peak_mb, _output = _child(*command)
    size = target.stat().st_size
    target.unlink()
    return {
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_second": round(records / seconds),
        "peak_rss_mb": round(peak_mb, 1),
        "gzip_mb": round(size / 2**20, 1),
    }


def table(results: dict) -> str:
    lines = [
        "| format | records | seconds | records/s | peak RSS (MB) | file (MB, gzip) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['format']} | {run['records']:,} | {run['seconds']} | "
            f"{run['records_per_second']:,} | {run['peak_rss_mb']} | {run['gzip_mb']} |"
        )
    return "\n".join(lines)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    _prepare()
    results: dict = {"runs": [], "fill_seconds": {}}
    done = 0
    for size in dict.fromkeys((min(SMALL, RECORDS), RECORDS)):
        results["fill_seconds"][size] = round(fill(done + 1, size), 1)
        done = size
        print(f"  {size:,} records written", flush=True)
        for name in FORMATS:
            results["runs"].append({"format": name} | measure(name, size))
            print(f"  {results['runs'][-1]}", flush=True)
    results["database_mb"] = round(SQLITE.stat().st_size / 2**20, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
