"""ResourceSync (libfed.oai.resourcesync): the source description, capability list and
resource list index lead to the newest dump's files with their length, SHA-256, type and
date, and to every live record's page by the sitemap's blocks; the reference client
(`resync`, the specification's editors' own) syncs both over real HTTP into a folder,
checking every dump file's SHA-256 against the list."""

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
from libfed.records.models import Record
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
    dump_list_url, records_url = index.xpath("sm:sitemap/sm:loc/text()", namespaces=NS)
    assert records_url == f"{base}/resourcesync/resourcelist-1.xml"
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
    pages = list((tmp_path / "mirror" / "records").iterdir())  # record by record, as CORE
    assert len(pages) == 24 and all(b"citation_title" in p.read_bytes() for p in pages)


def test_without_a_dump_the_index_lists_nothing(client) -> None:  # type: ignore[no-untyped-def]
    index = etree.fromstring(client.get("/resourcesync/resourcelist.xml").data)
    assert index.findall("sm:sitemap", NS) == []
    empty = etree.fromstring(client.get("/resourcesync/resourcelist-dumps.xml").data)
    assert empty.findall("sm:url", NS) == []


def test_the_index_lists_every_live_records_page_by_the_sitemaps_blocks(
    db: Database, clock: Clock, site: tuple[str, Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of 10 ids here (50,000 in production): the 24 demo records less a deleted
    one, each with its datestamp and its Dublin Core over GetRecord, in three lists."""
    from libfed.records.repository import tombstone
    from libfed.search import sitemap

    base, _config = site
    monkeypatch.setattr(sitemap, "PAGE_SIZE", 10)
    load(db, str(DEMO))
    with db.write() as session:
        identifiers = [
            i for (i,) in session.execute(sitemap.records().with_only_columns(Record.identifier))
        ]
        assert tombstone(session, identifiers[3])
    index = _get(f"{base}/resourcesync/resourcelist.xml")
    lists = index.xpath("sm:sitemap/sm:loc/text()", namespaces=NS)
    assert lists == [f"{base}/resourcesync/resourcelist-{n}.xml" for n in (1, 2, 3)]
    listed = []
    for url in lists:
        response = requests.get(url, timeout=10)
        assert response.text.count("xmlns:rs=") == 1  # declared once, on the root
        document = etree.fromstring(response.content)
        assert _capability(document) == "resourcelist"
        assert [ln.get("rel") for ln in document.findall("rs:ln", NS)] == ["up", "index"]
        listed += document.findall("sm:url", NS)
    assert len(listed) == 23
    first = listed[0]
    assert first.findtext("sm:loc", namespaces=NS) == f"{base}/records/{identifiers[0]}"
    assert first.findtext("sm:lastmod", namespaces=NS) == "2024-05-01T10:00:00Z"
    described = first.find("rs:ln", NS)
    assert described.get("rel") == "describedby" and described.get("type") == "application/xml"
    record = etree.fromstring(requests.get(described.get("href"), timeout=10).content)
    assert record.findtext(".//{http://www.openarchives.org/OAI/2.0/}identifier") == identifiers[0]
    assert requests.get(f"{base}/resourcesync/resourcelist-4.xml", timeout=10).status_code == 404
