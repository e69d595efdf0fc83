"""The harvester's benchmark (issue 3), run by `make bench` after the provider's.

1. libfed harvests 100,000 records from a local provider (libfed serving the
   provider benchmark's database) into a fresh database, and beside it, in the same
   run, Sickle harvests the same provider into a list (parsing only, nothing
   stored). Each runs in its own process; time and peak memory are measured.
2. Memory: the same harvest stopped after 20 pages (10,000 records) against the
   whole, in the harvester's peak RSS.
3. Five slow providers (0.5 s per page) harvested at once, against the slowest alone.

usage: python -m bench.harvest PROVIDER_CONFIG   (a migrated 100k-record database)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from .run import RESULTS, libfed_server

_SICKLE = """
import sys
from sickle import Sickle
records = list(Sickle(sys.argv[1], timeout=300).ListRecords(metadataPrefix="oai_dc"))
print(len(records))
"""

_LIBFED = """
import sys
from libfed.harvest.listing import Limits
from libfed.harvest.run import harvest
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
config = load_config(sys.argv[1])
limits = Limits(max_requests=int(sys.argv[2])) if len(sys.argv) > 2 else Limits()
run = harvest(Database(config.database.url), config, "bench", limits=limits)
print(run.added, run.status)
"""


def _child(code: str, *arguments: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB, GNU time's %M) and output of a Python child process."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "maxrss=%M", sys.executable, "-c", code, *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.rsplit("maxrss=", 1)[1].split()[0])
    return seconds, peak_kb / 1024, done.stdout.strip()


def _aggregator(folder: Path, base_url: str) -> Path:
    config = folder / "aggregator.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{folder / "aggregator.sqlite3"}"\n'
        '[oai]\nrepository_name = "agg"\nrepository_identifier = "agg.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["a@libfed.org"]\n'
        "[harvest]\nconcurrency = 5\n"
        '[exchange]\nhome_country = "AZ"\n'
    )
    bin_ = Path(sys.executable).parent
    subprocess.run(
        [str(bin_ / "libfed"), "--config", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(bin_ / "libfed"), "--config", str(config), "sources", "add", "bench", base_url],
        check=True,
        capture_output=True,
    )
    return config


def _slow_provider(port_holder: list[str]) -> None:
    """An OAI-PMH provider that takes 0.5 s per page: 5 pages of 100 records."""

    def page(n: int) -> bytes:
        records = "".join(
            f"<record><header><identifier>oai:slow:{n}-{i}</identifier><datestamp>2026-11-20"
            '</datestamp></header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/'
            'OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Kitab '
            f"{n}-{i}</dc:title></oai_dc:dc></metadata></record>"
            for i in range(100)
        )
        token = f"<resumptionToken>{n + 1}</resumptionToken>" if n < 4 else "<resumptionToken/>"
        return (
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
            f"</responseDate><request>x</request><ListRecords>{records}{token}</ListRecords></OAI-PMH>"
        ).encode()

    identify = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
        b"</responseDate><request>x</request><Identify><repositoryName>slow</repositoryName>"
        b"<baseURL>http://x/oai</baseURL><protocolVersion>2.0</protocolVersion><adminEmail>a@x.org"
        b"</adminEmail><earliestDatestamp>2026-01-01</earliestDatestamp><deletedRecord>no"
        b"</deletedRecord><granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>"
    )

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        query = environ.get("QUERY_STRING", "")
        if "Identify" in query:
            body = identify
        else:
            time.sleep(0.5)
            token = query.rsplit("resumptionToken=", 1)[-1] if "resumptionToken" in query else "0"
            body = page(int(token))
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port_holder.append(f"http://127.0.0.1:{server.server_port}/oai")
    threading.Thread(target=server.serve_forever, daemon=True).start()


def slow_providers(folder: Path) -> dict:
    urls: list[str] = []
    for _ in range(5):
        _slow_provider(urls)
    while len(urls) < 5:
        time.sleep(0.05)
    from libfed.harvest.run import harvest_concurrently
    from libfed.harvest.sources import add_source
    from libfed.kernel.config import load_config
    from libfed.kernel.db import Database

    config_path = _aggregator(folder, urls[0])
    config = load_config(config_path)
    db = Database(config.database.url)
    with db.write() as session:
        for n, url in enumerate(urls[1:], start=1):
            add_source(session, f"slow{n}", url)
    started = time.perf_counter()
    harvest_concurrently(db, config, ["bench"])
    alone = time.perf_counter() - started
    started = time.perf_counter()
    names = ["bench", "slow1", "slow2", "slow3", "slow4"]
    runs = harvest_concurrently(db, config, names, full=True)
    together = time.perf_counter() - started
    assert all(r.status == "succeeded" for r in runs.values()), runs
    return {"one_provider_seconds": round(alone, 2), "five_at_once_seconds": round(together, 2)}


def main() -> None:
    provider_config = Path(sys.argv[1])
    results: dict = {}
    server = libfed_server(provider_config)
    try:
        with tempfile.TemporaryDirectory() as folder:
            seconds, rss, out = _child(_SICKLE, server.url)
            results["sickle_parse_only"] = {
                "records": int(out),
                "seconds": round(seconds, 1),
                "records_per_second": round(int(out) / seconds),
                "peak_rss_mb": round(rss, 1),
            }
            print(results, flush=True)
            for name in ("small", "full", "slow"):
                (Path(folder) / name).mkdir()
            small = _aggregator(Path(folder) / "small", server.url)
            seconds, rss_small, out = _child(_LIBFED, str(small), "20")  # 20 pages of 500
            results["libfed_10k"] = {
                "records": int(out.split()[0]),
                "peak_rss_mb": round(rss_small, 1),
            }
            full = _aggregator(Path(folder) / "full", server.url)
            seconds, rss, out = _child(_LIBFED, str(full))
            added, status = out.split()
            results["libfed_harvest_and_store"] = {
                "records": int(added),
                "status": status,
                "seconds": round(seconds, 1),
                "records_per_second": round(int(added) / seconds),
                "peak_rss_mb": round(rss, 1),
            }
            print(results, flush=True)
            results["slow_providers"] = slow_providers(Path(folder) / "slow")
    finally:
        server.stop()
    results["ratios"] = {
        "libfed_vs_sickle_records_per_second": round(
            results["libfed_harvest_and_store"]["records_per_second"]
            / results["sickle_parse_only"]["records_per_second"],
            2,
        ),
        "libfed_rss_100k_vs_10k": round(
            results["libfed_harvest_and_store"]["peak_rss_mb"]
            / results["libfed_10k"]["peak_rss_mb"],
            3,
        ),
        "five_slow_at_once_vs_one": round(
            results["slow_providers"]["five_at_once_seconds"]
            / results["slow_providers"]["one_provider_seconds"],
            2,
        ),
    }
    (RESULTS / "harvest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
