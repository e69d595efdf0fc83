"""Importing UNIMARC beside MARC 21 (issue 17): the same records, once in each.

A UNIMARC record costs an import more than a MARC 21 one: it is told apart, decoded by
the character set its 100 says, converted to MARC 21, and its original is written as
UNIMARC slim, checked against that schema and stored as one more format. To measure
just that, both files hold the same bibliographic records: the 60 real UNIMARC records
of tests/fixtures/unimarc and the hand-written RUSMARC ones, varied into N distinct
records (own 001, numbered title), in ISO 2709; the MARC 21 file holds each one's MARC
21 conversion, written as MARC 21 ISO 2709 (UTF-8). Each file is imported by
`libfed.records.importer.import_files` (worker processes, as `libfed import`) into a
fresh, migrated SQLite database, ROUNDS times in alternation; the median run gives
records per second, and the ratio is UNIMARC's time over MARC 21's.

usage: python -m bench.unimarc            (BENCH_UNIMARC_RECORDS, default 10,000 each)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pymarc import Field, Record

from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.records.importer import import_files
from libfed.records.marc_checks import checked
from libfed.records.marc_reader import decode, read_raw
from libfed.records.site import Site
from libfed.records.unimarc import to_marc21

from .run import BIN, RESULTS, config_file

RECORDS = int(os.environ.get("BENCH_UNIMARC_RECORDS", "10000"))
ROUNDS = 3
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SOURCES = (FIXTURES / "unimarc" / "periouni_60.mrc", FIXTURES / "handwritten" / "rusmarc_utf8.mrc")


def _templates() -> list[Record]:
    """The UNIMARC records the files are made from (UNIMARC tags, decoded)."""
    return [decode(raw, "utf-8")[0] for path in SOURCES for raw in read_raw(path)]


def _numbered(template: Record, i: int) -> Record:
    """The template with 001 bench<i> and the copy's number after its title (200 $a)."""
    record = Record(leader=str(template.leader), to_unicode=False, force_utf8=True)
    for field in template.fields:
        if field.tag == "001":
            continue
        if field.tag == "200" and field.subfields:
            first = field.subfields[0]
            field = Field(
                "200",
                field.indicators,
                [first._replace(value=f"{first.value} [{i}]"), *field.subfields[1:]],
            )
        record.add_field(field)
    record.add_ordered_field(Field("001", data=f"bench{i:07d}"))
    return record


def write_files(folder: Path, count: int) -> tuple[Path, Path]:
    """The UNIMARC file and the MARC 21 file of the same `count` records."""
    templates = _templates()
    unimarc, marc21 = folder / "unimarc.mrc", folder / "marc21.mrc"
    with unimarc.open("wb") as uni, marc21.open("wb") as m21:
        for i in range(count):
            record = _numbered(templates[i % len(templates)], i)
            uni.write(record.as_marc())
            converted = to_marc21(record, str(record.leader))
            marc = checked(converted, str(converted.leader))
            marc.force_utf8 = True
            m21.write(marc.as_marc())
    return unimarc, marc21


def _import(folder: Path, source: Path, name: str) -> float:
    """Seconds to import `source` into a new migrated database."""
    database = folder / f"{name}.sqlite3"
    database.unlink(missing_ok=True)
    config = config_file(database)
    subprocess.run(
        [str(BIN / "libfed"), "--config", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    settings = load_config(config)
    db = Database(settings.database.url)
    try:
        started = time.perf_counter()
        summary = import_files(
            db, settings.oai.repository_identifier, [source], site=Site.of(settings)
        )
        elapsed = time.perf_counter() - started
    finally:
        db.dispose()
    assert (summary.added, summary.rejected) == (RECORDS, []), (summary.added, summary.rejected[:3])
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-unimarc-") as tmp:
        folder = Path(tmp)
        unimarc, marc21 = write_files(folder, RECORDS)
        times: dict[str, list[float]] = {"marc21": [], "unimarc": []}
        for _ in range(ROUNDS):
            times["marc21"].append(_import(folder, marc21, "marc21"))
            times["unimarc"].append(_import(folder, unimarc, "unimarc"))
        sizes = {"marc21": marc21.stat().st_size, "unimarc": unimarc.stat().st_size}
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "records": RECORDS,
        "bytes": sizes,
        "seconds": {name: [round(t, 2) for t in values] for name, values in times.items()},
        "records_per_second": {name: round(RECORDS / t) for name, t in medians.items()},
        "unimarc_time_over_marc21": round(medians["unimarc"] / medians["marc21"], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "unimarc.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
