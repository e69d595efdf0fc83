"""Two `libfed serve` processes on loopback, each with its own configuration file and
database: the federated exchange as it is deployed, for the tests that kill a server.

tests/federation_nodes.py serves both applications from threads of the test process,
which cannot die alone. Here each server is gunicorn's arbiter and workers in a process
group of their own, started by the real command line, so a test can SIGKILL the whole
server at any moment (a power cut, the OOM killer) and start it again on the same port
and database. Peering and delivery go through the real commands as well
(`libfed peers add --yes`, `libfed peers sync`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from backends import Databases
from conftest import config_dict, write_config

from libfed.accounts.institutions import create_institution
from libfed.exchange.federation.identity import WELL_KNOWN_PATH
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import CONFIG_ENV, DATABASE_URL_ENV, Config, parse_config
from libfed.kernel.db import Database
from tests.test_cli import free_port

LIBFED = str(Path(sys.executable).with_name("libfed"))
# How long a server may take to answer after it is started (two workers import and
# build the application each).
START_SECONDS = 30.0


def wait_until(
    condition: Callable[[], bool], seconds: float, what: str, *, every: float = 0.05
) -> None:
    """Poll `condition` `every` so often; fail naming `what` when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(every)


@dataclass
class Server:
    """One libfed server: its settings file, database, port and, while it runs, its
    process group (arbiter and workers)."""

    name: str
    config: Config
    folder: Path
    port: int
    workers: int
    db: Database
    process: subprocess.Popen | None = None
    partners: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.folder / "config.toml"

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, DATABASE_URL_ENV)}
        env["XDG_RUNTIME_DIR"] = str(self.folder)  # gunicorn's control socket
        return env

    def start(self) -> None:
        """Start `libfed serve` in a new session (its own process group), on the same
        port and database each time; returns at once (`wait_ready` waits)."""
        assert self.process is None, f"{self.name} is already running"
        command = [LIBFED, "--config", str(self.config_file), "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                cwd=self.folder,
                start_new_session=True,
            )

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, f"{self.name} exited:\n{self.read_log()}"
        try:
            with urllib.request.urlopen(self.url + WELL_KNOWN_PATH, timeout=5) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def wait_ready(self) -> None:
        """Until the node document is served (the key made at first start)."""
        wait_until(self._answers, START_SECONDS, f"{self.name} answering at {self.url}")

    def kill(self) -> None:
        """SIGKILL the arbiter and every worker at once: nothing runs a handler."""
        assert self.process is not None
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop); whatever is left of the group is killed."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            process.terminate()
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _signal_group(process, signal.SIGKILL)  # workers outliving their arbiter
            process.wait(timeout=10)

    def libfed(self, *arguments: str) -> subprocess.CompletedProcess:
        """A `libfed` command run on this server's settings, as its operator runs it."""
        return subprocess.run(
            [LIBFED, "--config", str(self.config_file), *arguments],
            capture_output=True,
            text=True,
            env=self._environment(),
            cwd=self.folder,
            timeout=120,
        )

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def configure_server(
    databases: Databases,
    template: str,
    folder: Path,
    name: str,
    country: str,
    *,
    workers: int = 2,
) -> Server:
    """A server's settings file and database (a copy of the migrated template), on a
    free port; not started. It delivers its outbox every half second."""
    folder.mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = config_dict(databases.copy(template, name))
    data["oai"] |= {"base_url": f"{url}/oai", "repository_identifier": f"{name}.libfed.org"}
    data["exchange"] = {"home_country": country}
    data["federation"] = {"base_url": url, "delivery_interval_seconds": 0.5, "timeout_seconds": 10}
    config = parse_config(data)
    written = write_config(folder / "config.toml", config)
    with written.open("a") as settings:  # write_config leaves [federation] out
        settings.write("[federation]\n")
        settings.writelines(f"{k} = {json.dumps(v)}\n" for k, v in data["federation"].items())
    return Server(name, config, folder, port, workers, Database(config.database.url))


def peer(server: Server, other: Server) -> None:
    """`server` gets `other` as a partner institution and, through
    `libfed peers add OTHER URL --institution ID --yes`, as its peer."""
    with server.db.write() as session:
        partner = create_institution(
            session,
            {
                "name": f"{other.name.title()} Library",
                "country": other.config.exchange.home_country,
            },
            actor=SYSTEM,
            home_country=server.config.exchange.home_country,
        )
        server.partners[other.name] = partner.id
    added = server.libfed(
        "peers",
        "add",
        other.name,
        other.url,
        "--institution",
        str(server.partners[other.name]),
        "--yes",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"peer {other.name} added" in added.stdout


def sync_until_delivered(server: Server, seconds: float = 40.0) -> subprocess.CompletedProcess:
    """`libfed peers sync` again and again until it exits 0 (nothing undelivered)."""
    deadline = time.monotonic() + seconds
    while True:
        synced = server.libfed("peers", "sync")
        if synced.returncode == 0:
            return synced
        assert time.monotonic() < deadline, synced.stdout + synced.stderr
        time.sleep(0.5)
