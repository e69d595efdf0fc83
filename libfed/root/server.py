"""gunicorn, embedded: `libfed serve` runs the production server, not Flask's."""

from __future__ import annotations

import gc
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

from libfed.exchange.digest import start_weekly
from libfed.exchange.federation.client import PeerClient
from libfed.exchange.federation.delivery import Deliverer
from libfed.exchange.federation.identity import own_key
from libfed.harvest.scheduler import Schedule
from libfed.kernel.config import Config
from libfed.kernel.mail import is_configured
from libfed.kernel.services import services
from libfed.oai.dumps import DumpSchedule
from libfed.serving.worker import SlowClientWorker


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    """The serving settings, shared with the benchmark so that competitors run alike.

    One request at a time per worker (gthread keeps idle keep-alive connections without
    a thread each): with 4 threads, requests in one worker took turns on the GIL, which
    SQLite releases and retakes at every statement; measured under 32 connections
    (bench/README.md), a list page's p99 went 179 -> 43 ms and the balance's 4.7 s -> 15 ms.

    That one thread must never wait for a client: SlowClientWorker collects each request
    in the event loop first (a client sending its head a byte a second otherwise held the
    worker). A worker holds at most 256 connections, each a file descriptor (gunicorn's
    default of 1,000 nears the usual limit of 1,024 open files); beyond that, new ones
    wait in the listen queue.
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": SlowClientWorker,
        "threads": 1,
        "worker_connections": 256,
        "timeout": 120,
        "accesslog": "-",
        "errorlog": "-",
        "post_worker_init": _freeze_startup_objects,
    }


def _freeze_startup_objects(_worker) -> None:  # type: ignore[no-untyped-def]
    """Move what start-up allocated out of the garbage collector's sight: a full
    collection walked it all again every few hundred requests (a 116 ms stall, which set
    the p99, measured with ORM list reads), and a frozen page stays shared with the arbiter."""
    gc.collect()
    gc.freeze()


class WSGIServer(BaseApplication):
    """Runs the WSGI application that `factory` builds, once in each worker after the fork
    (a database connection must not be shared between processes)."""

    def __init__(self, factory: Callable[[], Callable], options: dict) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self._factory()


def run(config: Config, host: str, port: int, workers: int) -> None:
    from .app import create_app

    options = gunicorn_options(host, port, workers) | _scheduler_hooks(config)
    WSGIServer(lambda: create_app(config), options).run()


class _Weekly:
    """The reminder digest's weekly job in one worker, stopped as a Schedule is."""

    def __init__(self, app: Flask) -> None:
        self._scheduler = start_weekly(app)

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)


def _deliverer(app: Flask) -> Deliverer:
    """The federation's outbox, delivered from this worker (every worker runs one)."""
    own = services(app)
    key = own_key(own)
    deliverer = Deliverer(own.config, own.db, lambda: PeerClient(own.config.federation, key))
    deliverer.start()
    return deliverer


def _scheduler_hooks(config: Config) -> dict:
    """Every worker delivers the federation's outbox and starts a Schedule, the lease in
    the database letting one of them run it, and, when mail can be sent, the weekly
    reminder digest, whose row per week in the database lets one of them send it; with a
    [dumps] directory and schedule, the dumps, whose lock lets one of them make each."""
    running: dict[int, list[Schedule | _Weekly | Deliverer | DumpSchedule]] = {}

    def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
        _freeze_startup_objects(worker)
        started: list[Schedule | _Weekly | Deliverer | DumpSchedule] = [_deliverer(worker.wsgi)]
        if config.harvest.scheduler:
            schedule = Schedule(config, services(worker.wsgi).db)
            schedule.start()
            started.append(schedule)
        if config.dumps.directory and config.dumps.schedule:
            dumps = DumpSchedule(config)
            dumps.start()
            started.append(dumps)
        if is_configured(config.mail):
            started.append(_Weekly(worker.wsgi))
        running[worker.pid] = started

    def worker_exit(_server, worker) -> None:  # type: ignore[no-untyped-def]
        for job in running.pop(worker.pid, []):
            job.stop()

    return {"post_worker_init": post_worker_init, "worker_exit": worker_exit}
