"""Several server processes on one database, as a deployment runs them: two gunicorn
workers and a separate scheduler process all start a schedule; the source is harvested
again and again, never by two of them at once."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import load, write_config
from flask import Flask
from sqlalchemy import select

from libfed.harvest.models import Run
from libfed.harvest.sources import add_source
from libfed.kernel.config import CONFIG_ENV, DATABASE_URL_ENV, Config
from libfed.kernel.db import Database
from libfed.serving.worker import REQUEST_DEADLINE
from tests.test_cli import free_port

pytestmark = pytest.mark.slow


def _start(command: list[str], log: Path, runtime: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, DATABASE_URL_ENV)}
    env["XDG_RUNTIME_DIR"] = str(runtime)  # gunicorn's control socket
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=runtime)


def test_three_schedulers_harvest_a_source_one_run_at_a_time(
    app: Flask,
    db: Database,
    live_server: str,
    aggregator: tuple[Config, Database],
    tmp_path: Path,
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    app.before_request(lambda: time.sleep(0.3))  # a partner slow enough for runs to overlap
    config, database = aggregator
    with database.write() as session:
        add_source(session, "partner", live_server, every_seconds=1)
    settings = write_config(
        tmp_path / "aggregator.toml", config, "scheduler = true\nmax_retries = 0\n"
    )
    libfed = str(Path(sys.executable).parent / "libfed")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    processes = [
        _start(
            [
                libfed,
                "--config",
                str(settings),
                "serve",
                "--port",
                str(free_port()),
                "--workers",
                "2",
            ],
            tmp_path / "serve.log",
            runtime,
        ),
        _start(
            [libfed, "--config", str(settings), "scheduler"], tmp_path / "scheduler.log", runtime
        ),
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


class _Dripper:
    """A client that sends `start`, then the rest of its request one byte at a time."""

    def __init__(self, port: int, start: bytes, rest: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(start)
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.rest = rest
        self.received = b""
        self.closed_after: float | None = None  # seconds after opening

    def drip(self) -> None:
        if self.closed_after is None and self.rest:
            try:
                self.sock.send(self.rest[:1])
                self.rest = self.rest[1:]
            except OSError:  # closed by the server: check() reads what it sent before
                self.rest = b""

    def check(self) -> None:
        """Reads what the server sent, noting when it closed the connection."""
        while self.closed_after is None:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            self.received += data
            if not data:
                self._closed()

    def _closed(self) -> None:
        self.closed_after = time.monotonic() - self.opened
        self.sock.close()


def _identify(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/oai?verb=Identify", timeout=2) as r:
        return r.status


def _wait_until_serving(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, log.read_text()
        try:
            _identify(port)
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "no answer within 30 s:\n" + log.read_text()
            time.sleep(0.2)


def _silent_after_close(port: int) -> socket.socket:
    """A client that asks for its connection to be closed, then neither reads nor closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /oai?verb=Identify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return sock


def test_slow_clients_hold_no_worker_and_are_closed_after_the_deadline(
    config: Config, db: Database, tmp_path: Path
) -> None:
    """Eight connections send a request a byte a second: four their head, four a form's
    body behind a whole head; others ask to be closed and then stay silent. Meanwhile /oai
    answers at once (kept alive, with Expect, with a chunked body); each slow connection
    is answered 408 and closed at REQUEST_DEADLINE."""
    libfed = str(Path(sys.executable).parent / "libfed")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    log = tmp_path / "serve.log"
    port = free_port()
    settings = write_config(tmp_path / "serve.toml", config)
    server = _start(
        [libfed, "--config", str(settings), "serve", "--port", str(port), "--workers", "2"],
        log,
        runtime,
    )
    drippers: list[_Dripper] = []
    silent: list[socket.socket] = []
    try:
        _wait_until_serving(server, port, log)
        head = b"GET /oai?verb=Identify HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 40
        form = b"verb=Identify&slow=" + b"s" * 40
        form_head = (
            b"POST /oai HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" % len(form)
        )
        drippers = [_Dripper(port, head[:1], head[1:]) for _ in range(4)]
        drippers += [_Dripper(port, form_head + form[:1], form[1:]) for _ in range(4)]

        for _ in range(4):  # four seconds of dripping, requests between the drips
            for dripper in drippers:
                dripper.drip()
            silent += [_silent_after_close(port) for _ in range(2)]
            assert _identify(port) == 200
            kept_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            kept_alive.request("GET", "/oai?verb=Identify")
            assert kept_alive.getresponse().read()
            connection = kept_alive.sock
            form_type = {"Content-Type": "application/x-www-form-urlencoded"}
            # http.client sends the body at once, and skips the "100 Continue" answers
            expect = {"Expect": "100-continue"}
            kept_alive.request("POST", "/oai", body="verb=Identify", headers=form_type | expect)
            assert b"<Identify>" in kept_alive.getresponse().read()
            kept_alive.request(
                "POST",
                "/oai",
                body=iter([b"verb=", b"Identify"]),
                headers=form_type,
                encode_chunked=True,
            )
            assert b"<Identify>" in kept_alive.getresponse().read()
            assert kept_alive.sock is connection, "the keep-alive connection was not kept"
            kept_alive.close()
            time.sleep(1)
        for dripper in drippers:
            dripper.check()
        assert all(dripper.closed_after is None for dripper in drippers), (
            "slow clients were closed before the deadline"
        )

        give_up = time.monotonic() + REQUEST_DEADLINE + 5
        while any(dripper.closed_after is None for dripper in drippers):
            assert time.monotonic() < give_up, "slow clients still open:\n" + log.read_text()
            for dripper in drippers:
                dripper.check()
                dripper.drip()
            for _ in range(5):  # a byte a second, noticing a close within 0.2 s
                time.sleep(0.2)
                for dripper in drippers:
                    dripper.check()
    finally:
        for sock in [dripper.sock for dripper in drippers] + silent:
            sock.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    for dripper in drippers:
        assert dripper.closed_after is not None
        assert REQUEST_DEADLINE - 1 < dripper.closed_after < REQUEST_DEADLINE + 3
        assert dripper.received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
