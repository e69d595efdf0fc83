"""Mail sent by the application (the exchange's weekly reminders, later the harvester's
failures) through the SMTP server of the `[mail]` settings.

Every domain that mails goes through here, so that one place decides how a server is
reached (plain, STARTTLS or TLS, with a login or without), how long it may take, and what
an operator reads when it fails: a `MailError` naming the server and the reason.

Addresses are checked before a message is made (email-validator, no deliverability look-up,
which would ask the DNS from inside a request) and headers are built by `EmailMessage`,
which refuses a line break in any header: nothing typed into a form can add a header.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from email_validator import EmailNotValidError, validate_email

from . import clock
from .config import MailConfig

# One digest goes to the coordinators of one library: a few people, never a mailing list.
MAX_RECIPIENTS = 100
MAX_SUBJECT = 200
MAX_NAME = 128


class MailError(Exception):
    """Mail could not be sent (or made): names the server (when one was reached for) and
    the reason, apart, so that a page can say them in its own words around them."""

    def __init__(self, reason: str, server: str | None = None) -> None:
        super().__init__(f"mail server {server}: {reason}" if server else reason)
        self.reason = reason
        self.server = server


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: an address and, if known, the name to show beside it."""

    address: str
    name: str | None = None


def is_configured(config: MailConfig) -> bool:
    """Whether mail can be sent at all: without a host nothing is mailed."""
    return bool(config.host)


def _address(recipient: Recipient) -> Address:
    if recipient.name is not None and (
        len(recipient.name) > MAX_NAME or any(c in recipient.name for c in "\r\n")
    ):
        raise MailError(f"the name {recipient.name[:MAX_NAME]!r} cannot head a message")
    try:
        valid = validate_email(recipient.address, check_deliverability=False)
    except EmailNotValidError as error:
        raise MailError(f"{recipient.address!r} is not an e-mail address: {error}") from None
    return Address(display_name=recipient.name or "", addr_spec=valid.normalized)


def compose(
    config: MailConfig,
    recipients: Sequence[Recipient],
    subject: str,
    text: str,
    html: str | None = None,
) -> EmailMessage:
    """A message from the configured sender: plain text, with an HTML alternative when
    given; headers in UTF-8 where they need it."""
    if not recipients:
        raise MailError("a message needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise MailError(f"{len(recipients)} recipients: at most {MAX_RECIPIENTS} per message")
    if "\r" in subject or "\n" in subject:
        raise MailError("a subject is one line")
    message = EmailMessage()
    message["From"] = _address(Recipient(config.sender))
    message["To"] = [_address(r) for r in recipients]
    message["Subject"] = subject[:MAX_SUBJECT]
    message["Date"] = format_datetime(clock.utc_now().replace(tzinfo=UTC), usegmt=True)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2])
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _connect(config: MailConfig) -> smtplib.SMTP:
    host = config.host or ""
    if config.security == "ssl":
        return smtplib.SMTP_SSL(
            host,
            config.port,
            timeout=config.timeout_seconds,
            context=ssl.create_default_context(),
        )
    server = smtplib.SMTP(host, config.port, timeout=config.timeout_seconds)
    if config.security == "starttls":
        server.starttls(context=ssl.create_default_context())
    return server


def send(config: MailConfig, messages: Sequence[EmailMessage]) -> int:
    """Send `messages` over one connection; returns how many went.

    A refusal of any message, or of the server, stops here with a MailError: the caller
    (a digest written once per period) rolls back what it recorded, so that a retry sends."""
    if not is_configured(config):
        raise MailError("no mail server is configured ([mail] host)")
    where = f"{config.host}:{config.port}"
    sent = 0
    try:
        with _connect(config) as server:
            if config.username:
                server.login(config.username, config.password or "")
            for message in messages:
                server.send_message(message)
                sent += 1
    except smtplib.SMTPAuthenticationError as error:
        raise MailError(
            f"{where} refused the login of {config.username!r}: {_said(error)}"
        ) from None
    except smtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(sorted(error.recipients))
        raise MailError(f"refused the recipients {refused}", where) from None
    except smtplib.SMTPResponseException as error:
        raise MailError(f"answered {_said(error)}", where) from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"not reached: {error or type(error).__name__}", where) from None
    return sent


def _said(error: smtplib.SMTPResponseException) -> str:
    said = error.smtp_error
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"{error.smtp_code} {text}".strip()
