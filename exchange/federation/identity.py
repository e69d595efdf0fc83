"""This server's identity among peers: an Ed25519 key pair made at first start and kept
in the database (like the secret key), and the public node document that names it.

The key's id is the SHA-256 of the raw public key (base64url, unpadded), so a signature
names its key without any registry; the fingerprint shown to people is the same digest's
first 16 bytes in hex groups, short enough to read out on the telephone.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from importlib.metadata import version

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.models import Setting
from libfed.kernel.services import Services

PROTOCOL = "libfed-exchange"
PROTOCOL_VERSION = "1"
# Where a node document is served, under a server's root address (RFC 8615).
WELL_KNOWN_PATH = "/.well-known/libfed-node"
FEDERATION_PATH = "/federation/v1"
_KEY = "node_signing_key"


def key_id(public_raw: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(public_raw).digest()).decode().rstrip("=")


def fingerprint(public_raw: bytes) -> str:
    """What two coordinators compare by telephone: 32 hex digits in eight groups."""
    digest = hashlib.sha256(public_raw).hexdigest()[:32].upper()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class NodeKey:
    """This server's signing key; one per application, a part of its services."""

    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_base64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def node_key(db: Database) -> NodeKey:
    """The stored key, made and stored first if there is none; every worker reads the
    same one (a second worker racing the first takes the first's)."""
    with db.session() as session:
        stored = session.scalar(select(Setting.value).where(Setting.key == _KEY))
    if stored is None:
        try:
            with db.write() as session:
                session.add(Setting(key=_KEY, value=_pem(Ed25519PrivateKey.generate())))
        except IntegrityError:
            pass
        with db.session() as session:
            stored = session.scalars(select(Setting.value).where(Setting.key == _KEY)).one()
    private = serialization.load_pem_private_key(stored.encode(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"the stored {_KEY} is not an Ed25519 key")
    return NodeKey(private)


class Keyring:
    """This server's key as a part of its services, read from the database when first
    asked for: an application is built before its database may be migrated (the API's
    fuzzing builds one to read the OpenAPI document), and a key stored in a database
    that does not exist yet would be lost."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._key: NodeKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> NodeKey:
        with self._lock:
            if self._key is None:
                self._key = node_key(self._db)
            return self._key


def own_key(services: Services) -> NodeKey:
    """This server's signing key."""
    return services.part(Keyring).key


def endpoints(base_url: str) -> dict[str, str]:
    """The protocol's endpoints under a server's root address."""
    root = base_url.rstrip("/") + FEDERATION_PATH
    return {
        "inbox": f"{root}/inbox",
        "offers": f"{root}/offers",
        "reconciliation": f"{root}/reconciliation",
    }


def node_document(config: Config, key: NodeKey) -> dict:
    """What a partner's server reads before it trusts us: who we are and our key."""
    base_url = config.public_base_url
    return {
        "protocol": PROTOCOL,
        "protocol_versions": [PROTOCOL_VERSION],
        "name": config.exchange.library_name or config.oai.repository_name,
        "institution": {
            "name": config.exchange.library_name or config.oai.repository_name,
            "country": config.exchange.home_country,
            "isil": config.federation.isil,
        },
        "base_url": base_url,
        "endpoints": endpoints(base_url),
        "public_key": {
            "type": "ed25519",
            "key_id": key.key_id,
            "public_key": key.public_base64,
            "fingerprint": key.fingerprint,
        },
        "software": {"name": "libfed", "version": version("libfed")},
    }
