"""The exchange's commands: `libfed exchange digest`, which the root CLI's `exchange`
group registers (`libfed.root.cli`) and imports only when it runs: `libfed --help`
imports no domain."""

from __future__ import annotations

import sys

import click

from libfed.kernel.cli import Context, pass_context


@click.command("digest")
@click.option("--dry-run", is_flag=True, help="Show who would get which mail; send nothing.")
@click.option("--force", is_flag=True, help="Send even if this week's digest went already.")
@pass_context
def digest_command(context: Context, dry_run: bool, force: bool) -> None:
    """Mail this week's reminders (unacknowledged and late shipments, quotas) to every
    active coordinator and administrator with an e-mail address, each in their language.
    Sent once per week (the server sends it on Mondays at 07:00); exit status 1 when the
    mail server refuses."""
    from libfed.kernel.mail import MailError

    from . import digest

    app = context.app()
    try:
        outcome = digest.send_digest(app, force=force, dry_run=dry_run)
    except MailError as error:
        click.echo(f"reminder digest not sent: {error}", err=True)
        sys.exit(1)
    said = {
        digest.SENT: f"sent {outcome.sent} mail(s)",
        digest.ALREADY_SENT: "already sent this week: nothing sent (--force sends again)",
        digest.NOTHING_TO_REMIND: "nothing to remind: no mail sent",
        digest.NO_RECIPIENTS: "no active coordinator or administrator has an e-mail "
        "address (libfed users set NAME --email ADDRESS): no mail sent",
        digest.NO_SERVER: "no mail server is configured ([mail] host): no mail sent",
        digest.DRY_RUN: f"dry run: {len(outcome.composed)} mail(s) would be sent",
    }
    click.echo(f"reminder digest {outcome.period}: {said[outcome.status]}")
    for message in outcome.composed if dry_run else []:
        click.echo(f"  to {message['To']}: {message['Subject']}")
