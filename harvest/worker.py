"""`libfed harvest-worker`: one process taking due sources from the queue (harvest.queue)."""

from __future__ import annotations

import signal
import threading

import click

from libfed.kernel.cli import Context, pass_context


@click.command("harvest-worker")
@click.option(
    "--poll",
    "poll_seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds between looks at the queue when nothing is due.",
)
@pass_context
def worker_command(context: Context, poll_seconds: float) -> None:
    """Harvest due sources taken from the database's queue, `[harvest] concurrency` at a
    time, until Ctrl-C or SIGTERM (harvests under way are finished first).

    Start any number, on any machines sharing the PostgreSQL database, with
    `[harvest] queue = true`: each source is harvested by one worker at a time, and a
    dead worker's source is taken over once its lease expires.
    """
    from .queue import Worker

    if not context.config.harvest.queue:
        raise click.ClickException(
            "the harvest queue is off: set [harvest] queue = true (PostgreSQL), or let the "
            "server's scheduler harvest"
        )
    worker = Worker(context.config, context.migrated_db(), poll_seconds=poll_seconds)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    click.echo("harvest worker running; Ctrl-C stops it after the harvests under way")
    runner = threading.Thread(target=worker.run, name="harvest-worker")
    runner.start()
    try:
        while runner.is_alive():
            runner.join(0.5)
    except KeyboardInterrupt:
        worker.stop()
        runner.join()
    click.echo(f"harvest worker stopped after {worker.harvested} harvests")
