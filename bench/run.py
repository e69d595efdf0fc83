"""`make bench`: libfed's provider against the alternatives, measured in one run.

Figures are compared as ratios within one run: this machine has two cores and is
shared, so absolute times move between runs while ratios hold.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from werkzeug.serving import make_server

from .client import Harvest, harvest, page_latency
from .generate import write_collection

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
SMALL = int(os.environ.get("BENCH_RECORDS", "100000"))
LARGE = int(os.environ.get("BENCH_LARGE_RECORDS", "1000000"))
ROUNDS = 5  # alternating harvests of libfed and the floor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Callable) -> Iterator[str]:
    """A WSGI application (a simulated provider) served on a free loopback port by threads
    for the block; yields its /oai URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/oai"
    finally:
        server.shutdown()
        thread.join()


def config_file(database: Path, url: str | None = None) -> Path:
    """libfed's config beside `database`, for that SQLite file or else for `url`
    (bench.postgres serves the same settings from PostgreSQL)."""
    path = database.with_suffix(".toml")
    path.write_text(
        f'[database]\nurl = "{url or f"sqlite:///{database}"}"\n'
        '[oai]\nrepository_name = "bench"\nrepository_identifier = "bench.libfed.org"\n'
        'base_url = "http://127.0.0.1/oai"\nadmin_emails = ["bench@libfed.org"]\npage_size = 500\n'
        '[exchange]\nhome_country = "AZ"\n'
    )
    return path


class Server:
    """A server process on loopback; its peak memory is the sum over its process tree."""

    def __init__(self, command: list[str], port: int, url: str) -> None:
        self.port, self.url = port, url
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.url, timeout=5)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start: {command}")

    def tree(self) -> list[int]:
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(c) for c in children]
        return pids

    def peak_rss_mb(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def libfed_server(config: Path) -> Server:
    port = free_port()
    return Server(
        [
            str(BIN / "libfed"),
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        port,
        f"http://127.0.0.1:{port}/oai",
    )


def competitor(kind: str, source: Path) -> Server:
    port = free_port()
    return Server(
        [sys.executable, "-m", "bench.serve_competitor", kind, str(source), str(port)],
        port,
        f"http://127.0.0.1:{port}/",
    )


def import_records(config: Path, source: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "libfed"), "--config", str(config), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(BIN / "libfed"), "--config", str(config), "import", str(source)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def replicate(database: Path, copies: int) -> None:
    """Grow the repository `copies`-fold by copying its rows under new identifiers.

    Fast and faithful in size: the copies carry the same stored XML, with the new
    identifier written into their headers.
    """
    renamed = "CAST(replace(CAST({0} AS TEXT), o.identifier, n.identifier) AS BLOB)"
    with sqlite3.connect(database, isolation_level=None) as connection:
        connection.execute("BEGIN")
        for k in range(1, copies):
            suffix = f".r{k}"
            connection.execute(
                "INSERT INTO records (identifier, datestamp, deleted, content_hash, header_xml) "
                "SELECT identifier || ?, datestamp, deleted, content_hash, header_xml "
                "FROM records WHERE identifier NOT LIKE '%.r%'",
                (suffix,),
            )
            connection.execute(
                "UPDATE records AS n SET header_xml = "
                + renamed.format("o.header_xml")
                + " FROM records AS o WHERE n.identifier = o.identifier || ?",
                (suffix,),
            )
            connection.execute(
                "INSERT INTO record_formats (record_id, prefix, body_xml) "
                "SELECT n.id, f.prefix, f.body_xml "
                "FROM records o JOIN record_formats f ON f.record_id = o.id "
                "JOIN records n ON n.identifier = o.identifier || ? "
                "WHERE o.identifier NOT LIKE '%.r%'",
                (suffix,),
            )
        connection.execute("COMMIT")
        connection.execute("ANALYZE")


def depth_query(h, fraction: float) -> str:  # type: ignore[no-untyped-def]
    return h.queries[int((len(h.queries) - 1) * fraction)]


def median(harvests: list[Harvest]) -> Harvest:
    return sorted(harvests, key=lambda h: h.seconds)[len(harvests) // 2]


def latencies(url: str, h: Harvest) -> dict:
    first = page_latency(url, h.queries[0])
    second = page_latency(url, h.queries[1])
    deep = page_latency(url, depth_query(h, 0.9))
    return {
        "first_page_ms": round(first * 1000, 1),
        "second_page_ms": round(second * 1000, 1),
        "page_at_90pct_ms": round(deep * 1000, 1),
        "depth_ratio": round(deep / first, 3),
        "depth_ratio_vs_second_page": round(deep / second, 3),
    }


def figures(h: Harvest) -> dict:
    return {
        "records": h.records,
        "pages": h.pages,
        "seconds": round(h.seconds, 2),
        "records_per_second": round(h.records_per_second),
    }


def measure_against_floor(config: Path) -> tuple[dict, dict]:
    """libfed and the floor, up side by side and harvested in alternation.

    Alternating makes whatever else the machine does in the meantime weigh on both
    alike; the medians of the rounds are compared.
    """
    server = libfed_server(config)
    try:
        pages: dict[str, bytes] = {}
        harvest(server.url, on_page=pages.__setitem__)  # warms libfed, captures the floor's pages
        pickled = DATA / "pages.pickle"
        pickled.write_bytes(pickle.dumps(pages))
        floor = competitor("static", pickled)
        try:
            ours, theirs = [], []
            for _ in range(ROUNDS):
                ours.append(harvest(server.url))
                theirs.append(harvest(floor.url))
            floor_rss = floor.peak_rss_mb()
        finally:
            floor.stop()
        h = median(ours)
        libfed = {
            **figures(h),
            "rounds_seconds": [round(x.seconds, 2) for x in ours],
            **latencies(server.url, h),
            "gzip_records_per_second": round(
                harvest(server.url, encoding="gzip").records_per_second
            ),
            "peak_server_rss_mb": round(server.peak_rss_mb(), 1),
        }
    finally:
        server.stop()
    static = {
        **figures(median(theirs)),
        "rounds_seconds": [round(x.seconds, 2) for x in theirs],
        "peak_server_rss_mb": round(floor_rss, 1),
    }
    return libfed, static


def measure_large(config: Path) -> dict:
    """One measured harvest after a warm-up: at a million records each takes about a minute."""
    server = libfed_server(config)
    try:
        harvest(server.url)
        h = harvest(server.url)
        return {
            **figures(h),
            **latencies(server.url, h),
            "peak_server_rss_mb": round(server.peak_rss_mb(), 1),
        }
    finally:
        server.stop()


def main() -> None:
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    results: dict = {"records": SMALL, "large_records": LARGE}

    source = DATA / f"records-{SMALL}.xml"
    if not source.exists():
        print(f"generating {SMALL} records ...", flush=True)
        write_collection(source, SMALL)
    results["source_mb"] = round(source.stat().st_size / 2**20, 1)

    database = DATA / "small.sqlite3"
    for leftover in DATA.glob("small.sqlite3*"):
        leftover.unlink()
    config = config_file(database)
    print("importing ...", flush=True)
    seconds = import_records(config, source)
    results["import"] = {"seconds": round(seconds, 1), "records_per_second": round(SMALL / seconds)}
    print(results["import"], flush=True)

    print("harvesting libfed and the floor, alternately ...", flush=True)
    results["libfed"], results["static"] = measure_against_floor(config)
    print(results["libfed"], results["static"], sep="\n", flush=True)

    print("harvesting BatchingServer ...", flush=True)
    server = competitor("batching", database)
    try:
        results["batching"] = {
            **figures(harvest(server.url)),
            "peak_server_rss_mb": round(server.peak_rss_mb(), 1),
        }
    finally:
        server.stop()
    print(results["batching"], flush=True)

    if LARGE > SMALL:
        print(f"growing to {LARGE} records ...", flush=True)
        large = DATA / "large.sqlite3"
        for leftover in DATA.glob("large.sqlite3*"):
            leftover.unlink()
        # VACUUM cannot run inside the transaction libfed's engine always opens.
        with sqlite3.connect(database, isolation_level=None) as connection:
            connection.execute("VACUUM INTO ?", (str(large),))
        replicate(large, LARGE // SMALL)
        results["libfed_large"] = measure_large(config_file(large))
        print(results["libfed_large"], flush=True)

    lf, st, bt = results["libfed"], results["static"], results["batching"]
    results["ratios"] = {
        "libfed_vs_batching_records_per_second": round(
            lf["records_per_second"] / bt["records_per_second"], 2
        ),
        "libfed_vs_floor_harvest_time": round(lf["seconds"] / st["seconds"], 3),
        "page_90pct_vs_first": lf["depth_ratio"],
        "page_90pct_vs_second": lf["depth_ratio_vs_second_page"],
    }
    if "libfed_large" in results:
        lg = results["libfed_large"]
        results["ratios"]["page_90pct_vs_first_large"] = lg["depth_ratio"]
        results["ratios"]["page_90pct_vs_second_large"] = lg["depth_ratio_vs_second_page"]
        results["ratios"]["server_rss_large_vs_small"] = round(
            lg["peak_server_rss_mb"] / lf["peak_server_rss_mb"], 3
        )
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results["ratios"], indent=2))


if __name__ == "__main__":
    main()
