"""A set's rule changed over a catalogue: `python -m bench.set_rules` (a step of `make bench`).

Saving a rule (docs/sets.md) re-evaluates every live record, a batch per transaction,
and stores again only those whose sets change (libfed.records.set_membership). What it
costs is the reading and evaluating of every record, plus the writing of the changed
ones; both are measured here.

1. Data, on SQLite: BENCH_SET_RULES_RECORDS (100,000) MARCXML records of bench.generate
   (the 222 templates varied: Azerbaijani, Russian, Uzbek, Karakalpak, English, Arabic,
   Persian, CJK ...), imported by `libfed import` into a fresh database.
2. In this process, timed each: a first rule by language (most records are read, the
   Azerbaijani ones written), the rule changed to another language (the first ones
   leave, the new ones join), the same rule saved again (nothing changes: evaluation
   alone), a rule with a year range and a MARC field condition (each record's MARCXML
   parsed), and the preview count of a rule. Records per second are records read over
   the wall time of the call.

Figures go to bench/results/set_rules.json; a markdown table is printed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from libfed.kernel.db import Database
from libfed.records.set_membership import Evaluated, preview, save_rule
from libfed.records.set_rules import parse_rule

from .generate import write_collection
from .run import DATA, RESULTS, config_file, import_records

RECORDS = int(os.environ.get("BENCH_SET_RULES_RECORDS", "100000"))


def _timed(name: str, call: Callable[[], Evaluated | int]) -> dict:
    started = time.perf_counter()
    done = call()
    seconds = time.perf_counter() - started
    if isinstance(done, int):
        figures = {"members": done, "changed": 0}
    else:
        figures = {"members": done.members, "changed": done.changed}
    row = {
        "step": name,
        **figures,
        "seconds": round(seconds, 2),
        "records_per_second": round(RECORDS / seconds),
    }
    print(row, flush=True)
    return row


def main() -> None:
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    source = DATA / f"records-{RECORDS}.xml"
    if not source.exists():
        print(f"generating {RECORDS} records ...", flush=True)
        write_collection(source, RECORDS)
    database = DATA / "set_rules.sqlite3"
    for leftover in DATA.glob("set_rules.sqlite3*"):
        leftover.unlink()
    print("importing ...", flush=True)
    import_records(config_file(database), source)
    db = Database(f"sqlite:///{database}")
    steps = [
        _timed(
            "first rule: --language aze",
            lambda: save_rule(db, "lang", parse_rule(languages=["aze"])),
        ),
        _timed(
            "changed: --language rus",
            lambda: save_rule(db, "lang", parse_rule(languages=["rus"])),
        ),
        _timed(
            "saved again, nothing changes",
            lambda: save_rule(db, "lang", parse_rule(languages=["rus"])),
        ),
        _timed(
            "--year 1900-1999 --field 650~history",
            lambda: save_rule(db, "old", parse_rule(years="1900-1999", fields=["650~history"])),
        ),
        _timed(
            "preview: --subject history",
            lambda: preview(db, "x", parse_rule(subjects=["history"])),
        ),
    ]
    db.dispose()
    result = {"records": RECORDS, "steps": steps}
    (RESULTS / "set_rules.json").write_text(json.dumps(result, indent=2))
    print(f"\n{RECORDS:,} records, SQLite\n")
    print("| step | members after | datestamps changed | seconds | records/s |")
    print("|---|---|---|---|---|")
    for row in steps:
        print(
            f"| {row['step']} | {row['members']:,} | {row['changed']:,} | "
            f"{row['seconds']} | {row['records_per_second']:,} |"
        )


if __name__ == "__main__":
    main()
