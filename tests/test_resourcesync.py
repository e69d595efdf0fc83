"""ResourceSync (libfed.oai.resourcesync): the source description, capability list and
resource list index lead to the newest dump's files with their length, SHA-256, type and
date, and the reference client (`resync`, the specification's editors' own) syncs them
over real HTTP into a folder, checking every file's SHA-256 against the list."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import ROOT, Clock, config_dict, load
from lxml import etree
from resync.client import Client
from werkzeug.serving import make_server

from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.oai import dumps
from libfed.root.app import create_app

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"
NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "rs": "http://www.openarchives.org/rs/terms/",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Config]]:
    """A server whose public address is the one it listens on, as in production (the
    lists name absolute URLs, which the client follows); its root URL and settings."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    config = parse_config(
        config_dict(database_url, base_url=f"{base}/oai")
        | {"dumps": {"directory": str(tmp_path / "dumps")}}
    )
    database = Database(config.database.url)
    server = make_server("127.0.0.1", port, create_app(config, database), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, config
    server.shutdown()
    thread.join()
    database.dispose()


def _get(url: str) -> etree._Element:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(
        "application/xml"
    )
    return etree.fromstring(response.content)


def _capability(element: etree._Element) -> str:
    return element.find("rs:md", NS).get("capability")


def test_the_lists_lead_from_the_well_known_address_to_the_dump_files(
    db: Database, clock: Clock, site: tuple[str, Config]
) -> None:
    base, config = site
    load(db, str(DEMO))
    dump = dumps.make_dump(config, db)
    description = _get(f"{base}/.well-known/resourcesync")
    assert _capability(description) == "description"
    (capabilities_url,) = description.xpath("sm:url/sm:loc/text()", namespaces=NS)
    capabilities = _get(capabilities_url)
    assert _capability(capabilities) == "capabilitylist"
    assert capabilities.find("rs:ln", NS).attrib == {
        "rel": "up",
        "href": f"{base}/.well-known/resourcesync",
    }
    (index_url,) = capabilities.xpath("sm:url/sm:loc/text()", namespaces=NS)
    index = _get(index_url)
    assert index.tag == f"{{{NS['sm']}}}sitemapindex" and _capability(index) == "resourcelist"
    (dump_list_url,) = index.xpath("sm:sitemap/sm:loc/text()", namespaces=NS)
    listed = _get(dump_list_url)
    assert _capability(listed) == "resourcelist" and listed.find("rs:md", NS).get("at")
    urls = listed.findall("sm:url", NS)
    assert len(urls) == len(dump.files) == 4
    for url, entry in zip(urls, dump.files, strict=True):
        loc = url.findtext("sm:loc", namespaces=NS)
        assert loc == f"{base}/dumps/{dump.stamp}/{entry.name}"
        assert url.findtext("sm:lastmod", namespaces=NS) == "2024-05-01T10:00:00Z"
        md = url.find("rs:md", NS).attrib
        assert md == {
            "hash": f"sha-256:{entry.sha256}",
            "length": str(entry.size),
            "type": "application/gzip",
        }
        body = requests.get(loc, timeout=10).content
        assert hashlib.sha256(body).hexdigest() == entry.sha256 and len(body) == entry.size


def test_the_reference_client_syncs_the_dumps_and_checks_their_hashes(
    db: Database,
    clock: Clock,
    site: tuple[str, Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, config = site
    monkeypatch.chdir(tmp_path)  # where the client keeps its state file
    load(db, str(DEMO))
    dump = dumps.make_dump(config, db)
    client = Client(hashes=["sha-256"])
    client.set_mappings([f"{base}/", str(tmp_path / "mirror")])
    client.baseline_or_audit()
    for entry in dump.files:
        copy = tmp_path / "mirror" / "dumps" / dump.stamp / entry.name
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == entry.sha256


def test_without_a_dump_the_index_lists_nothing(client) -> None:  # type: ignore[no-untyped-def]
    index = etree.fromstring(client.get("/resourcesync/resourcelist.xml").data)
    assert index.findall("sm:sitemap", NS) == []
    empty = etree.fromstring(client.get("/resourcesync/resourcelist-dumps.xml").data)
    assert empty.findall("sm:url", NS) == []
