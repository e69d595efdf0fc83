"""Dumps: the whole repository in each export format, made on a schedule or by hand, kept
in `[dumps] directory` and served at stable URLs (`libfed.oai.dumps_web`).

Zenodo's users found a full dump more reliable than OAI-PMH for a reload: one download
with a size and a checksum instead of thousands of resumption tokens. A dump is a
folder named by the moment it started (UTC, `20261207T030000Z`) holding one gzip file
per format (libfed.records.export) and `dump.json`, which lists each file with its
records, size and SHA-256. It is written as `.partial-<stamp>` and renamed when every
file is complete, so that what is listed is always whole; the oldest beyond `keep` are
removed after. Only the names `dump.json` lists are ever served.

One dump is made at a time: the maker holds an exclusive lock on `.lock` in the
directory (flock, released by the kernel if the process dies). Every server worker
looks every minute whether a dump is due (a time of `[dumps] schedule` has passed since
the last dump started) and, if so, starts a process that tries the lock: the first
makes it, the others find the lock held or, once it is free, the dump no longer due. A
server down at the scheduled time makes the dump when it starts again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.export import export_file

log = logging.getLogger(__name__)

# The file of each format in a dump.
FILE_NAMES = {
    "marcxml": "marcxml.xml.gz",
    "mods": "mods.xml.gz",
    "oai_dc": "oai_dc.xml.gz",
    "jsonl": "records.jsonl.gz",
}
LATEST = "latest"
STAMP = re.compile(r"\d{8}T\d{6}Z")
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_MANIFEST = "dump.json"
_PARTIAL = ".partial-"
CHECK_EVERY = 60  # seconds between a worker's looks at the schedule


class DumpBusy(RuntimeError):
    """Another process is making a dump now."""


@dataclass(frozen=True)
class DumpFile:
    name: str
    format: str
    records: int
    size: int
    sha256: str


@dataclass(frozen=True)
class Dump:
    """A complete dump: its stamp (also its folder's name), when it started and ended
    (UTC), and its files."""

    stamp: str
    started: datetime
    finished: datetime
    files: tuple[DumpFile, ...]

    def file(self, name: str) -> DumpFile | None:
        return next((entry for entry in self.files if entry.name == name), None)


def _folder(config: Config) -> Path:
    if config.dumps.directory is None:
        raise LookupError("no [dumps] directory is configured")
    return Path(config.dumps.directory)


def _read(folder: Path) -> Dump | None:
    """The dump in `folder` as its manifest lists it; None when it cannot be read."""
    try:
        data = json.loads((folder / _MANIFEST).read_text("utf-8"))
        return Dump(
            data["stamp"],
            datetime.fromisoformat(data["started"]),
            datetime.fromisoformat(data["finished"]),
            tuple(DumpFile(**entry) for entry in data["files"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dumps(config: Config) -> list[Dump]:
    """The complete dumps, newest first; [] when dumps are not configured."""
    if config.dumps.directory is None:
        return []
    try:
        folders = [p for p in _folder(config).iterdir() if STAMP.fullmatch(p.name)]
    except OSError:
        return []
    found = [(folder.name, _read(folder)) for folder in sorted(folders, reverse=True)]
    return [dump for name, dump in found if dump is not None and dump.stamp == name]


def find(config: Config, stamp: str) -> Dump | None:
    """The dump of `stamp`, or the newest for `latest`; None for anything else."""
    if stamp != LATEST and not STAMP.fullmatch(stamp):
        return None
    listed = dumps(config)
    if stamp == LATEST:
        return listed[0] if listed else None
    return next((dump for dump in listed if dump.stamp == stamp), None)


def file_path(config: Config, dump: Dump, name: str) -> Path | None:
    """Where a file the dump lists is; None for a name it does not list (nothing from a
    URL is ever joined to a path unchecked)."""
    entry = dump.file(name)
    if entry is None or entry.name not in FILE_NAMES.values():  # a manifest is ours, still
        return None
    return _folder(config) / dump.stamp / entry.name


@contextmanager
def _locked(config: Config) -> Iterator[Path]:
    """The dumps' directory (made if missing), its lock held; DumpBusy at once when
    another process holds it."""
    folder = _folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DumpBusy("another process is making a dump now") from None
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(config: Config, db: Database, started: datetime) -> Dump:
    folder = _folder(config)
    stamp = started.strftime(_STAMP_FORMAT)
    partial = folder / f"{_PARTIAL}{stamp}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    files = []
    for name in dict.fromkeys(config.dumps.formats):
        written = export_file(db, name, partial / FILE_NAMES[name], base_url=config.oai.base_url)
        files.append(
            DumpFile(FILE_NAMES[name], name, written.records, written.size, written.sha256)
        )
    dump = Dump(stamp, started, clock.utc_now(), tuple(files))
    manifest = asdict(dump) | {
        "started": dump.started.isoformat(),
        "finished": dump.finished.isoformat(),
    }
    (partial / _MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
    os.replace(partial, folder / stamp)
    return dump


def _prune(config: Config) -> None:
    """The dumps beyond `keep`, and what an interrupted dump left, removed."""
    folder = _folder(config)
    for old in dumps(config)[config.dumps.keep :]:
        shutil.rmtree(folder / old.stamp, ignore_errors=True)
    for leftover in folder.glob(f"{_PARTIAL}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _made(config: Config, db: Database, folder: Path) -> Dump:
    """A new dump, the lock held; what an interrupted dump left and the dumps beyond
    `keep` are removed."""
    _prune(config)
    started = clock.utc_now().replace(microsecond=0)
    if (folder / started.strftime(_STAMP_FORMAT)).exists():
        raise DumpBusy("a dump was made this very second")
    dump = _write(config, db, started)
    _prune(config)
    return dump


def make_dump(config: Config, db: Database) -> Dump:
    """A new dump of every format of `[dumps] formats`, now, whatever the schedule;
    DumpBusy when another process is making one."""
    with _locked(config) as folder:
        return _made(config, db, folder)


def is_due(config: Config, now: datetime) -> bool:
    """Whether a time of the schedule has passed since the last dump started (always,
    when there is none); never without a schedule or a directory."""
    if config.dumps.schedule is None or config.dumps.directory is None:
        return False
    listed = dumps(config)
    if not listed:
        return True
    zone = ZoneInfo(config.web.timezone)
    trigger = CronTrigger.from_crontab(config.dumps.schedule, timezone=zone)
    after = listed[0].started.replace(tzinfo=UTC) + timedelta(seconds=1)
    due = trigger.get_next_fire_time(None, after)
    return due is not None and due <= now.replace(tzinfo=UTC)


def make_if_due(config: Config, db: Database) -> Dump | None:
    """The scheduled dump, if one is due and no other process is making it: due is
    asked again under the lock, so that two workers never make the same one."""
    if not is_due(config, clock.utc_now()):
        return None
    try:
        with _locked(config) as folder:
            return _made(config, db, folder) if is_due(config, clock.utc_now()) else None
    except DumpBusy:
        return None


def _busy(config: Config) -> bool:
    """Whether a process is making a dump now: then no other is started, each minute of
    the minutes it takes, only to find the lock held."""
    try:
        with _locked(config):
            return False
    except DumpBusy:
        return True


def make_detached(config: Config) -> int:
    """The due dump made in a child process (`python -m libfed.oai.dumps`, the
    configuration on its standard input), waited for; the child's exit status.

    Minutes of reading, compressing and parsing in a server worker's thread would take
    the interpreter's lock from the requests that worker serves; in a process of its own
    they take a core at most. The child takes the directory's lock itself: if it dies,
    the kernel releases it, and the partial folder goes with the next dump."""
    child = subprocess.Popen(
        [sys.executable, "-m", "libfed.oai.dumps"], stdin=subprocess.PIPE, text=True
    )
    child.communicate(config.model_dump_json())
    return child.returncode


class DumpSchedule:
    """A server worker's thread looking every CHECK_EVERY seconds whether a dump is due,
    and making it in a process of its own (`make_detached`); stopped as the harvest
    Schedule is."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dumps", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(CHECK_EVERY):
            try:
                if not is_due(self._config, clock.utc_now()) or _busy(self._config):
                    continue
                status = make_detached(self._config)
            except Exception:  # an unreadable directory must not end the thread
                log.exception("the scheduled dump could not be started")
                continue
            if status != 0:
                log.error("the process making the scheduled dump exited with status %s", status)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    """The child: the due dump, if no other process is making it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = Config.model_validate_json(sys.stdin.read())
    db = Database(config.database.url)
    try:
        made = make_if_due(config, db)
    finally:
        db.dispose()
    if made is not None:
        log.info("dump %s made in %s", made.stamp, config.dumps.directory)


if __name__ == "__main__":
    main()
