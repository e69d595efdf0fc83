"""A harvest in a process of its own, for the harvests nobody waits for at a terminal.

"Harvest now" and the schedule run inside `libfed serve`'s workers. A partner's
server decides what a harvest meets, and whatever it manages to provoke (memory
exhausted in spite of the limits, a crash in a library, a process killed by the
kernel) must not take a worker that serves pages and /oai with it. So the harvest
runs in a child process (`python -m libfed.harvest.detached`, the configuration on its
standard input), and the worker only waits for it. A child that dies leaves no run
"running" and no lease held: its parent ends both, saying how the child ended.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys

from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .leases import release_leases_of_process
from .reconcile import reconcile_unattended
from .run import fail_unfinished, harvest_unattended, source_and_last_run

log = logging.getLogger(__name__)

RECONCILE = "--reconcile"


def _how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"was stopped by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was stopped by signal {-code}"
    return f"exited with status {code}"


def harvest_detached(
    db: Database, config: Config, name: str, origin: str, reconcile: bool = False
) -> int:
    """Harvest `name` (or reconcile it: harvest.reconcile, which meets the provider as a
    harvest does) in a child process and wait for it; the child's exit status.

    Never raises for what the child does: a child that ended abnormally has its run
    marked failed and its lease on the source released.
    """
    source_id, after = source_and_last_run(db, name)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "libfed.harvest.detached",
            name,
            origin,
            *([RECONCILE] if reconcile else []),
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    child.communicate(config.model_dump_json())
    if child.returncode != 0:
        ended = _how_it_ended(child.returncode)
        log.error("the process harvesting %s (%s) %s", name, origin, ended)
        fail_unfinished(db, source_id, after, f"the harvesting process {ended}")
        release_leases_of_process(db, f"source:{name}", child.pid)
    return child.returncode


def main() -> None:
    """The child: one unattended harvest (or reconciliation) with the configuration read
    from stdin."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    name, origin = sys.argv[1], sys.argv[2]
    config = Config.model_validate_json(sys.stdin.read())
    db = Database(config.database.url)
    try:
        if sys.argv[3:] == [RECONCILE]:
            reconcile_unattended(db, config, name)
        else:
            harvest_unattended(db, config, name, origin)
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
