"""Several server processes on one database, as a deployment runs them: two gunicorn
workers and a separate scheduler process all start a schedule; the source is harvested
again and again, never by two of them at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import load, write_config
from flask import Flask
from sqlalchemy import select

from harvest.models import Run
from harvest.sources import add_source
from libfed.config import CONFIG_ENV, DATABASE_URL_ENV, Config
from libfed.db import Database
from tests.test_cli import free_port

pytestmark = pytest.mark.slow


def _start(command: list[str], log: Path, runtime: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, DATABASE_URL_ENV)}
    env["XDG_RUNTIME_DIR"] = str(runtime)  # gunicorn's control socket
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=runtime)


def test_three_schedulers_harvest_a_source_one_run_at_a_time(
    app: Flask, db: Database, live_server: str, aggregator: tuple[Config, Database],
    tmp_path: Path,
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    app.before_request(lambda: time.sleep(0.3))  # a partner slow enough for runs to overlap
    config, database = aggregator
    with database.write() as session:
        add_source(session, "partner", live_server, every_seconds=1)
    settings = write_config(tmp_path / "aggregator.toml", config,
                           "scheduler = true\nmax_retries = 0\n")
    libfed = str(Path(sys.executable).parent / "libfed")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    processes = [
        _start([libfed, "--config", str(settings), "serve", "--port", str(free_port()),
                "--workers", "2"], tmp_path / "serve.log", runtime),
        _start([libfed, "--config", str(settings), "scheduler"], tmp_path / "scheduler.log",
               runtime),
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            with database.session() as session:
                finished = session.scalars(
                    select(Run).where(Run.finished_at.is_not(None)).order_by(Run.started_at)
                ).all()
            if len(finished) >= 4:
                break
            for process, name in zip(processes, ("serve", "scheduler"), strict=True):
                assert process.poll() is None, (tmp_path / f"{name}.log").read_text()
            assert time.monotonic() < deadline, "fewer than 4 runs in 60 s"
            time.sleep(0.5)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    with database.session() as session:
        runs = session.scalars(select(Run).order_by(Run.started_at, Run.id)).all()
    done = [run for run in runs if run.finished_at is not None]
    assert all(run.status == "succeeded" for run in done), [(r.status, r.errors) for r in done]
    for earlier, later in pairwise(done):
        assert later.started_at >= earlier.finished_at, "two runs of one source overlapped"
