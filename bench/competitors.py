"""What libfed is measured against, run under the same gunicorn settings.

(a) The provider a user would otherwise assemble: the `oaipmh` library's
BatchingServer over the same SQLite records (its batching interface hands the
application a cursor, so the query pages with OFFSET). (b) The floor: the very
pages libfed served, replayed as static bytes from memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from lxml import etree
from oaipmh import common
from oaipmh.metadata import MetadataRegistry
from oaipmh.server import BatchingServer, oai_dc_writer

from libfed.records.crosswalk import DC_ELEMENTS
from libfed.records.stored_xml import metadata_of

_DC = "{http://purl.org/dc/elements/1.1/}"


class SQLiteRepository:
    """oaipmh's IBatchingOAIPMH over libfed's tables, as its documentation suggests."""

    def __init__(self, path: str, base_url: str) -> None:
        self._path = path
        self._base_url = base_url
        self._connection: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, check_same_thread=False)
        return self._connection

    def identify(self):  # type: ignore[no-untyped-def]
        return common.Identify(
            "bench",
            self._base_url,
            "2.0",
            ["bench@example.org"],
            datetime(2000, 1, 1),
            "persistent",
            "YYYY-MM-DDThh:mm:ssZ",
            ["identity"],
        )

    def listMetadataFormats(self, identifier=None):  # type: ignore[no-untyped-def]
        return [
            (
                "oai_dc",
                "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                "http://www.openarchives.org/OAI/2.0/oai_dc/",
            )
        ]

    def listRecords(
        self, metadataPrefix, set=None, from_=None, until=None, cursor=0, batch_size=10
    ):  # type: ignore[no-untyped-def]
        rows = self.db.execute(
            "SELECT r.identifier, r.datestamp, r.deleted, f.body_xml FROM records r "
            "JOIN record_formats f ON f.record_id = r.id AND f.prefix = 'oai_dc' "
            "ORDER BY r.id LIMIT ? OFFSET ?",
            (batch_size, cursor),
        ).fetchall()
        result = []
        for identifier, datestamp, deleted, body in rows:
            xml = metadata_of(body)
            header = common.Header(
                None, identifier, datetime.fromisoformat(datestamp), [], bool(deleted)
            )
            fields: dict[str, list[str]] = {name: [] for name in DC_ELEMENTS}
            if xml:
                for element in etree.fromstring(xml):
                    fields[element.tag.removeprefix(_DC)].append(element.text or "")
            result.append((header, common.Metadata(None, fields), None))
        return result


def batching_server_app(database_path: str, base_url: str) -> Callable:
    registry = MetadataRegistry()
    registry.registerWriter("oai_dc", oai_dc_writer)
    server = BatchingServer(
        SQLiteRepository(database_path, base_url), registry, resumption_batch_size=500
    )

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        body = server.handleRequest(query)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    return app


def static_app(pages: dict[str, bytes]) -> Callable:
    """Serve captured pages by their query string: no work but the HTTP itself."""

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        body = pages[environ.get("QUERY_STRING", "")]
        start_response(
            "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app
