"""What cornering a bad record costs (issue 18), run by `make bench`.

A provider of R records spread over W days, one of which makes every ListRecords
page holding it fail with HTTP 500 (tests/faulty_provider.py's dated provider, the
one the tests harvest, over loopback), is harvested from scratch without date
windows. Reported per W: the windows bisection asked for against the ideal
log2(W) of a binary search, the failing requests, the requests it spent (failing
windows, retries and the record-by-record fetching of the last day: the figure its
budget caps), the extra requests against the same harvest of a provider without the
bad record, and both times. Retries do not sleep: the backoff, seconds per failure
with real providers, is the provider's time, not ours, and would drown the figures.

usage: python -m bench.bisection
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.harvest.transport import HTTPTransport
from libfed.kernel.config import load_config
from libfed.kernel.db import Database

from .run import BIN, RESULTS

ROOT = Path(__file__).resolve().parent.parent
# The provider the tests harvest: the benchmark measures what they check.
_SPEC = importlib.util.spec_from_file_location(
    "faulty_provider", ROOT / "tests" / "faulty_provider.py"
)
assert _SPEC and _SPEC.loader
faulty_provider = sys.modules["faulty_provider"] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(faulty_provider)

WINDOWS = (8, 64, 512, 4096)
RECORDS = 2000
PAGE_SIZE = 100


def _database(folder: Path) -> Path:
    config = folder / "bisection.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{folder / "bisection.sqlite3"}"\n'
        '[oai]\nrepository_name = "agg"\nrepository_identifier = "agg.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["a@libfed.org"]\n'
        '[exchange]\nhome_country = "AZ"\n'
    )
    subprocess.run(
        [str(BIN / "libfed"), "--config", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    return config


def _harvest(config_path: Path, name: str, days: int, bad: str | None) -> dict:
    config = load_config(config_path)
    db = Database(config.database.url)
    with faulty_provider.dated_provider(RECORDS, days, page_size=PAGE_SIZE) as provider:
        if bad:
            provider.broken.add(bad)
        with db.write() as session:
            session.add(Source(name=name, base_url=provider.url, prefix="oai_dc", sets=[]))
        transport = HTTPTransport(config.harvest, sleep=lambda seconds: None)
        started = time.perf_counter()
        run = harvest(db, config, name, transport=transport)
        seconds = time.perf_counter() - started
    db.dispose()
    assert run.status == "succeeded", run.errors
    spent = next(
        (
            int(found.group(1))
            for entry in run.errors
            if (found := re.search(r"by bisection in (\d+) requests", entry["message"]))
        ),
        0,
    )
    windows = {
        (q.get("from"), q.get("until"))
        for q in provider.queries
        if q.get("verb") == "ListRecords" and "until" in q
    }
    return {
        "added": run.added,
        "quarantined": run.quarantined,
        "requests": transport.attempts,
        "refused": provider.refusals,
        "windows": len(windows),
        "spent": spent,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        config = _database(Path(folder))
        for days in WINDOWS:
            bad = f"oai:x:{RECORDS * 2 // 3}"
            clean = _harvest(config, f"clean-{days}", days, None)
            broken = _harvest(config, f"broken-{days}", days, bad)
            assert broken["added"] == RECORDS - 1 and broken["quarantined"] == 1, broken
            rows.append(
                {
                    "days": days,
                    "records": RECORDS,
                    "log2": math.ceil(math.log2(days)),
                    "windows": broken["windows"],
                    "refused": broken["refused"],
                    "spent": broken["spent"],
                    "extra": broken["requests"] - clean["requests"],
                    "seconds": broken["seconds"],
                    "clean_seconds": clean["seconds"],
                }
            )
            print(rows[-1], flush=True)
    print("| W days | log2 W | windows asked | refused | spent | extra vs clean | time | clean |")
    for r in rows:
        print(
            f"| {r['days']} | {r['log2']} | {r['windows']} | {r['refused']} | {r['spent']} "
            f"| {r['extra']} | {r['seconds']} s | {r['clean_seconds']} s |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bisection.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
