"""What intake validation (issue 13) costs the harvester, measured in one run.

1. The provider: libfed serving `bench/data/small.sqlite3` (the provider benchmark's
   100,000 records, built here as bench.run builds it when missing).
2. For oai_dc and for marc21 (MARCXML, written again and validated twice per record),
   alternating rounds: the harvester as it was before intake (a git worktree of
   BEFORE_REV under bench/data) and as it is now, each harvesting the whole provider
   into a fresh database in its own process. Medians of records/s, peak RSS, ratio.
3. The re-check of stored records (`libfed db recheck`) over the last marc21 harvest:
   records/s.

usage: python -m bench.intake [BEFORE_REV]   (default 4d625d3, the last commit before intake)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .generate import write_collection
from .run import BIN, DATA, RESULTS, SMALL, config_file, import_records, libfed_server

ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent

_HARVEST = """
import sys
from libfed.harvest.run import harvest
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
config = load_config(sys.argv[1])
run = harvest(Database(config.database.url), config, "bench")
print(run.added, run.status)
"""


def _provider() -> Path:
    database = DATA / "small.sqlite3"
    config = config_file(database)
    if not database.exists():
        source = DATA / f"records-{SMALL}.xml"
        if not source.exists():
            write_collection(source, SMALL)
        print(f"importing {SMALL} records for the provider ...", flush=True)
        import_records(config, source)
    return config


def _worktree(revision: str) -> Path:
    folder = DATA / f"before-{revision}"
    if not folder.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
            check=True,
            capture_output=True,
        )
    return folder


def _aggregator(folder: Path, base_url: str, prefix: str) -> Path:
    """A fresh database, migrated by today's code, with the provider as source `bench`."""
    folder.mkdir(parents=True)
    config = folder / "aggregator.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{folder / "aggregator.sqlite3"}"\n'
        '[oai]\nrepository_name = "agg"\nrepository_identifier = "agg.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["a@libfed.org"]\n'
        '[exchange]\nhome_country = "AZ"\n'
    )
    libfed = [str(BIN / "libfed"), "--config", str(config)]
    subprocess.run([*libfed, "db", "upgrade"], check=True, capture_output=True)
    subprocess.run(
        [*libfed, "sources", "add", "bench", base_url, "--prefix", prefix],
        check=True,
        capture_output=True,
    )
    return config


def _timed(command: list[str], code_root: Path | None = None) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and output of a command; with `code_root`, its Python
    imports libfed from that tree (an older revision) rather than the installed one."""
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = str(code_root)
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss=%M", *command],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=code_root or ROOT,
    )
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.rsplit("maxrss=", 1)[1].split()[0])
    return seconds, peak_kb / 1024, done.stdout.strip()


def _harvest(folder: Path, url: str, prefix: str, code_root: Path | None) -> dict:
    config = _aggregator(folder, url, prefix)
    seconds, rss, out = _timed([sys.executable, "-c", _HARVEST, str(config)], code_root)
    added, status = out.split()[-2:]
    assert status == "succeeded", out
    return {
        "config": str(config),
        "records": int(added),
        "records_per_second": round(int(added) / seconds),
        "peak_rss_mb": round(rss, 1),
    }


def main() -> None:
    before = sys.argv[1] if len(sys.argv) > 1 else "4d625d3"
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    old_code = _worktree(before)
    server = libfed_server(_provider())
    results: dict = {"before": before, "rounds": ROUNDS}
    try:
        with tempfile.TemporaryDirectory(dir=DATA) as scratch:
            for prefix in ("oai_dc", "marc21"):
                runs: dict[str, list[dict]] = {"before": [], "now": []}
                for n in range(ROUNDS):
                    for label, root in (("before", old_code), ("now", None)):
                        folder = Path(scratch) / f"{prefix}-{label}-{n}"
                        runs[label].append(_harvest(folder, server.url, prefix, root))
                        print(prefix, label, runs[label][-1], flush=True)
                figures = {
                    label: {
                        "records_per_second": statistics.median(
                            r["records_per_second"] for r in done
                        ),
                        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in done),
                        "rounds": [r["records_per_second"] for r in done],
                    }
                    for label, done in runs.items()
                }
                figures["now_vs_before"] = round(
                    figures["now"]["records_per_second"] / figures["before"]["records_per_second"],
                    2,
                )
                results[prefix] = figures
                last = runs["now"][-1]
            libfed = [str(BIN / "libfed"), "--config", last["config"]]
            seconds, rss, out = _timed([*libfed, "db", "recheck"])
            results["recheck"] = {
                "records": last["records"],
                "records_per_second": round(last["records"] / seconds),
                "peak_rss_mb": round(rss, 1),
                "summary": out.splitlines()[-1],
            }
    finally:
        server.stop()
    (RESULTS / "intake.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
