"""Requests between peers signed with HTTP Message Signatures (RFC 9421), by the
maintained `http-message-signatures` library, and their bodies bound by a signed
Content-Digest (RFC 9530).

A signature covers the method, the target URI, the content type and the digest, and
carries `created`, a random `nonce`, the key's id and the tag "libfed-exchange". The
receiver hears it only within the clock-skew window, and remembers each nonce for that
window, so that neither an old request nor the same request again is heard.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from requests import PreparedRequest

from .identity import PROTOCOL, NodeKey

COVERED = ("@method", "@target-uri", "content-type", "content-digest")
COVERED_WITHOUT_BODY = ("@method", "@target-uri")


class BadSignature(Exception):
    """The request is not signed as the protocol asks, or not by the key it names."""


class _OwnKey(HTTPSignatureKeyResolver):
    def __init__(self, key: NodeKey) -> None:
        self._key = key

    def resolve_private_key(self, key_id: str):  # type: ignore[no-untyped-def]
        return self._key.private

    def resolve_public_key(self, key_id: str) -> None:
        return None


def sign(request: PreparedRequest, key: NodeKey) -> None:
    """Sign `request` in place, with a fresh nonce: a retry is a new request."""
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey(key)).sign(
        request,
        key_id=key.key_id,
        created=datetime.now(UTC),
        nonce=secrets.token_urlsafe(18),
        tag=PROTOCOL,
        label="libfed",
        covered_component_ids=("@method", "@target-uri", "content-type")
        if body
        else COVERED_WITHOUT_BODY,
        body=body if body else None,
    )


@dataclass(frozen=True)
class Heard:
    """A request whose signature holds: by which key, with which nonce, created when."""

    key_id: str
    nonce: str
    created: datetime


class _Lookup(HTTPSignatureKeyResolver):
    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self._keys = keys

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(key_id)

    def resolve_private_key(self, key_id: str) -> None:
        raise KeyError(key_id)


@dataclass
class _Message:
    """What the verifier reads of a request: the URL as the sender addressed it."""

    method: str
    url: str
    headers: dict[str, str]


def verify(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    public_key: Ed25519PublicKey,
    expected_key_id: str,
    max_skew: timedelta,
) -> Heard:
    """Check the request's signature by `public_key` and that it covers what the protocol
    asks; raise BadSignature with the reason otherwise."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=_Lookup({expected_key_id: public_key}),
    )
    verifier.max_clock_skew = max_skew
    message = _Message(method=method.upper(), url=url, headers=headers)
    try:
        results = verifier.verify(
            message,
            max_age=max_skew,
            expect_tag=PROTOCOL,
            require_components=COVERED if body else COVERED_WITHOUT_BODY,
            body=body,
        )
    except (InvalidSignature, HTTPMessageSignaturesException) as error:
        raise BadSignature(str(error)) from None
    parameters = results[0].parameters
    nonce = parameters.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise BadSignature("the signature carries no nonce of 16 to 64 characters")
    if parameters.get("keyid") != expected_key_id:
        raise BadSignature("the signature names another key")
    return Heard(
        key_id=expected_key_id,
        nonce=nonce,
        created=datetime.fromtimestamp(int(parameters["created"]), UTC).replace(tzinfo=None),
    )


def signing_key_id(headers: dict[str, str]) -> str | None:
    """The key id a request's signature names, read before the key is looked up: which
    peer claims to speak. None when there is no readable Signature-Input."""
    value = headers.get("signature-input") or headers.get("Signature-Input")
    if not value or len(value) > 2048:
        return None
    try:
        parsed = HTTPMessageVerifier._parse_signature_dictionary(value)
    except Exception:
        return None
    for member in parsed.values():
        key_id = member.params.get("keyid")
        if isinstance(key_id, str):
            return key_id
    return None
