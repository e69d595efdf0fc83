"""`libfed harvest-digest`: the alert digest (harvest.digest) mailed now.

Apart from `libfed harvest NAMES...`, whose arguments are source names, and importing
what it uses when it runs, as harvest.cli does.
"""

from __future__ import annotations

import click

from libfed.kernel.cli import Context, pass_context


@click.command("harvest-digest")
@click.option(
    "--dry-run", is_flag=True, help="Print the mails that would go; send and mark nothing."
)
@pass_context
def digest_command(context: Context, dry_run: bool) -> None:
    """Mail the operators ([harvest] alert_recipients) the runs' alerts not yet told, in one
    digest, as the schedule does every [harvest] alert_digest_minutes.

    Exits non-zero when the mail server refuses (the runs wait for the next digest).
    """
    from libfed.kernel.mail import MailError

    from . import digest

    try:
        outcome = digest.send_digest(context.migrated_db(), context.config, dry_run=dry_run)
    except MailError as error:
        raise click.ClickException(
            f"the alert digest was not sent ({error}); its runs wait for the next one"
        ) from None
    if outcome.status == digest.DRY_RUN:
        for message in outcome.composed:
            click.echo(f"To: {message['To']}\nSubject: {message['Subject']}\n")
            part = message.get_body(preferencelist=("plain",))
            click.echo(part.get_content() if part is not None else "")
    said = {
        digest.SENT: f"sent {len(outcome.composed)} mail(s) telling of {outcome.runs} run(s)",
        digest.DRY_RUN: f"dry run: {len(outcome.composed)} mail(s) of {outcome.runs} run(s) "
        "would be sent",
        digest.NOTHING_TO_TELL: "no run has alerts not yet told: no mail sent",
        digest.NO_RECIPIENTS: "no one to tell ([harvest] alert_recipients is empty and "
        "alert_source_contacts is off): no mail sent",
        digest.NO_SERVER: "no mail server is configured ([mail] host): no mail sent",
        digest.BUSY: "another alert digest is being sent now: no mail sent here",
    }
    click.echo(said[outcome.status])
