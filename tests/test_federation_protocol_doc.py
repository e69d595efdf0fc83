"""docs/exchange-protocol.md's worked example and test vectors stay what libfed does:
another system's implementer checks its signer against them, so a vector that drifted
from the code would send them astray."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from libfed.exchange.federation import signing
from libfed.exchange.federation.identity import NodeKey
from libfed.exchange.federation.schemas import Envelope, Shipped

DOC = (Path(__file__).parent.parent / "docs" / "exchange-protocol.md").read_text()
INBOX = "https://libfed.tashkent.example.uz/federation/v1/inbox"


def _block(after: str, language: str) -> str:
    """The first fenced block of `language` after the heading `after`."""
    start = DOC.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(DOC, start)
    assert match is not None
    return match.group(1)


def _key() -> NodeKey:
    pem = _block("## 17. Worked example", "").split("public key")[0]
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    return NodeKey(private)  # type: ignore[arg-type]


def _headers(block: str) -> tuple[dict[str, str], bytes]:
    head, _, body = block.partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    return fields, body.rstrip("\n").encode()


def _signed(
    monkeypatch: pytest.MonkeyPatch, method: str, url: str, body: bytes | None, at: int, nonce: str
) -> dict[str, str]:
    class Fixed(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def]
            return datetime.fromtimestamp(at, UTC)

    monkeypatch.setattr(signing, "datetime", Fixed)
    monkeypatch.setattr(signing.secrets, "token_urlsafe", lambda _n: nonce)
    headers = {"Content-Type": "application/json"} if body else {}
    request = requests.Request(method, url, data=body, headers=headers).prepare()
    signing.sign(request, _key())
    return dict(request.headers)


def test_the_key_its_id_and_fingerprint_are_the_documents() -> None:
    key = _key()
    listed = _block("## 17. Worked example", "")
    assert f"public key (raw, base64):  {key.public_base64}" in listed
    assert f"key id:                    {key.key_id}" in listed
    assert f"fingerprint:               {key.fingerprint}" in listed
    document = json.loads(_block("### 3.2 The node document", "json"))
    assert document["public_key"]["key_id"] == key.key_id
    assert document["public_key"]["fingerprint"] == key.fingerprint


def test_the_shipped_example_is_a_valid_message_signed_as_libfed_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documented, body = _headers(_block("### 17.1 A `Shipped` message", "http"))
    envelope = Envelope.model_validate(json.loads(body))
    assert Shipped.model_validate(envelope.body).items[0].copies == 3
    assert int(documented["Content-Length"]) == len(body)

    ours = _signed(monkeypatch, "POST", INBOX, body, 1796635805, "bm9uY2Utb2YtdGhlLWV4YW1wbGU")

    for name in ("Content-Digest", "Signature-Input", "Signature"):
        assert ours[name] == documented[name]
    base = _block("Its signature base", "").rstrip("\n")
    assert base.endswith(documented["Signature-Input"].removeprefix("libfed="))


def test_the_shipped_example_is_heard_and_a_changed_byte_is_not() -> None:
    documented, body = _headers(_block("### 17.1 A `Shipped` message", "http"))
    headers = {name.lower(): value for name, value in documented.items()}
    key = _key()
    public = key.private.public_key()
    window = datetime.now(UTC) - datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC) + timedelta(days=1)
    heard = signing.verify("POST", INBOX, headers, body, public, key.key_id, window)
    assert heard.nonce == "bm9uY2Utb2YtdGhlLWV4YW1wbGU"
    with pytest.raises(signing.BadSignature):
        changed = body.replace(b'"copies":3', b'"copies":4')
        signing.verify("POST", INBOX, headers, changed, public, key.key_id, window)


def test_the_signed_read_example_is_libfeds(monkeypatch: pytest.MonkeyPatch) -> None:
    documented, _ = _headers(_block("### 17.2 A signed read", "http"))
    url = "https://libfed.tashkent.example.uz/federation/v1/reconciliation?year=2026"
    ours = _signed(monkeypatch, "GET", url, None, 1796635860, "c2Vjb25kLW5vbmNlLW9mLWV4YW1wbGU")
    assert ours["Signature-Input"] == documented["Signature-Input"]
    assert ours["Signature"] == documented["Signature"]
