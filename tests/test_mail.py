"""Mail through the configured SMTP server (libfed.kernel.mail), against a local sink:
what arrives, and what an operator reads when it cannot."""

from __future__ import annotations

import pytest

from libfed.kernel.config import MailConfig
from libfed.kernel.mail import MAX_RECIPIENTS, MailError, Recipient, compose, send
from tests.smtp_sink import body, free_port, smtp_sink


def _config(port: int, **more: object) -> MailConfig:
    return MailConfig(host="127.0.0.1", port=port, sender="libfed@library.example.az", **more)


def test_a_message_arrives_with_text_and_html_and_utf8_headers() -> None:
    with smtp_sink() as sink:
        config = _config(sink.port)
        message = compose(
            config,
            [Recipient("leyla@library.example.az", "Leyla Məmmədova")],
            "Напоминания: 3 отправки",
            "Отправка 12 не подтверждена.",
            "<p>Отправка <b>12</b> не подтверждена.</p>",
        )
        assert send(config, [message]) == 1
    [received] = sink.received
    assert received["Subject"] == "Напоминания: 3 отправки"
    assert "Məmmədova" in str(received["To"])
    assert received.is_multipart()
    assert "Отправка 12 не подтверждена." in body(received, "plain")
    assert "<b>12</b>" in body(received, "html")
    assert sink.envelopes == [("libfed@library.example.az", ["leyla@library.example.az"])]


@pytest.mark.parametrize(
    "address",
    ["not an address", "a@b.example\r\nBcc: victim@example.org", "x" * 300 + "@example.org"],
)
def test_an_address_that_is_not_one_is_refused_before_anything_is_sent(address: str) -> None:
    with pytest.raises(MailError, match="is not an e-mail address"):
        compose(_config(25), [Recipient(address)], "Subject", "text")


def test_a_header_cannot_be_injected_through_a_name_or_a_subject() -> None:
    config = _config(25)
    with pytest.raises(MailError):
        compose(config, [Recipient("a@example.org", "Eve\r\nBcc: victim@example.org")], "S", "t")
    with pytest.raises(MailError):
        compose(config, [Recipient("a@example.org")], "Hi\nBcc: victim@example.org", "t")


def test_recipients_are_bounded() -> None:
    many = [Recipient(f"user{n}@example.org") for n in range(MAX_RECIPIENTS + 1)]
    with pytest.raises(MailError, match="at most"):
        compose(_config(25), many, "Subject", "text")


def test_a_server_that_is_down_is_named_in_the_error() -> None:
    port = free_port()  # nothing listens there
    config = _config(port, timeout_seconds=5)
    message = compose(config, [Recipient("a@example.org")], "Subject", "text")
    with pytest.raises(MailError) as raised:
        send(config, [message])
    assert raised.value.server == f"127.0.0.1:{port}"
    assert f"127.0.0.1:{port}" in str(raised.value)


def test_a_refused_message_is_an_error_with_the_servers_answer() -> None:
    with smtp_sink() as sink:
        sink.refuse = True
        config = _config(sink.port)
        message = compose(config, [Recipient("a@example.org")], "Subject", "text")
        with pytest.raises(MailError, match="550 mailbox unavailable"):
            send(config, [message])


def test_without_a_host_nothing_is_sent() -> None:
    config = MailConfig()
    message = compose(config, [Recipient("a@example.org")], "Subject", "text")
    with pytest.raises(MailError, match=r"no mail server is configured"):
        send(config, [message])
