"""What rendering one record costs in each metadata format (issue 17: MODS beside the
Dublin Core crosswalk), measured in one process on the same records.

Every record is rendered in every format at import, harvest intake and accession, so a
format's cost per record is added to each write. The records are the benchmark's
templates (the 24 demo records and the 198 Library of Congress records, with their 880
fields), checked as import checks them; each renderer runs over all of them, ROUNDS
times in alternation, and the median round gives microseconds per record. The ratio is
against the Dublin Core crosswalk's, measured in the same rounds.

usage: python -m bench.formats
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pymarc import Record

from libfed.records.formats import MARC21, OAI_DC
from libfed.records.formats.mods import FORMAT as MODS
from libfed.records.marc_checks import RecordRejected, checked
from libfed.records.marc_reader import read_marc

from .run import RESULTS

ROUNDS = 15
REPEAT = 20  # passes over the records per round: a round of some 4,400 renderings
LANDING_URL = "https://library.example.org/records/oai:library.example.org:12345678"


def _records() -> list[Record]:
    """The records bench.generate varies, as import stores them."""
    data = Path(str(resources.files("libfed.root.demo") / "data"))
    records = []
    for name in ("libfed_demo.xml", "marc2bibframe2_gwu.xml", "marc2bibframe2_princeton.xml"):
        for entry in read_marc(data / name):
            if entry.record is not None:
                try:
                    records.append(checked(entry.record, entry.raw_leader))
                except RecordRejected:
                    continue
    return records


def _round(render: Callable[[Record, str | None], str], records: list[Record]) -> float:
    """Microseconds per record over REPEAT passes, each naming its page as served ones do."""
    start = time.perf_counter()
    for _ in range(REPEAT):
        for record in records:
            render(record, LANDING_URL)
    return (time.perf_counter() - start) / (REPEAT * len(records)) * 1e6


def main() -> None:
    records = _records()
    formats = (OAI_DC, MODS, MARC21)
    times: dict[str, list[float]] = {entry.prefix: [] for entry in formats}
    for entry in formats:  # warm-up: imports, caches
        _round(entry.render, records[:10])
    for _ in range(ROUNDS):
        for entry in formats:
            times[entry.prefix].append(_round(entry.render, records))
    medians = {prefix: statistics.median(values) for prefix, values in times.items()}
    result = {
        "records": len(records),
        "us_per_record": {prefix: round(value, 1) for prefix, value in medians.items()},
        "ratio_to_oai_dc": {
            prefix: round(value / medians[OAI_DC.prefix], 2) for prefix, value in medians.items()
        },
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "formats.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
