"""The dumps served: `/dumps/` (a page), `/dumps.json`, and each file at a stable URL,
`/dumps/latest/<name>` (always the newest dump's) and `/dumps/<stamp>/<name>` (kept as
long as its dump is, `[dumps] keep`).

A file is sent only when the dump's own manifest lists its name (libfed.oai.dumps):
nothing from the URL reaches the file system unchecked, so `..`, a hidden file or a
partial dump answer 404. Files go out with send_file: conditional requests (ETag is
the SHA-256) and byte ranges, so that an interrupted download of a large dump resumes.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, send_file

from libfed.kernel.services import services
from libfed.search.landing import public_url

from .dumps import LATEST, Dump, DumpFile, dumps, file_path, find

blueprint = Blueprint("dumps", __name__, template_folder="templates")

# What a person calls each format (docs/dumps.md says what each file holds).
FORMAT_NAMES = {
    "marcxml": "MARC 21 (MARCXML)",
    "mods": "MODS",
    "oai_dc": "Dublin Core (OAI-PMH)",
    "jsonl": "JSON Lines",
}
_LISTING_CACHE = "public, max-age=300"
_DATED_CACHE = "public, max-age=31536000, immutable"  # a dated file never changes


def file_url(dump: Dump | str, entry: DumpFile) -> str:
    """A file's absolute URL: of its dated dump, or under `latest` when given that."""
    stamp = dump if isinstance(dump, str) else dump.stamp
    return public_url("dumps.dump_file", stamp=stamp, name=entry.name)


def _described(dump: Dump) -> dict:
    return {
        "stamp": dump.stamp,
        "started": f"{dump.started.isoformat()}Z",
        "finished": f"{dump.finished.isoformat()}Z",
        "files": [
            {
                "name": entry.name,
                "format": entry.format,
                "records": entry.records,
                "size": entry.size,
                "sha256": entry.sha256,
                "url": file_url(dump, entry),
            }
            for entry in dump.files
        ],
    }


@blueprint.get("/dumps.json")
def listing_json() -> Response:
    """Every dump kept, newest first, and the stable URLs of the newest one's files."""
    listed = dumps(services().config)
    latest = listed[0] if listed else None
    response = jsonify(
        {
            "latest": None
            if latest is None
            else {entry.format: file_url(LATEST, entry) for entry in latest.files},
            "dumps": [_described(dump) for dump in listed],
        }
    )
    response.headers["Cache-Control"] = _LISTING_CACHE
    return response


@blueprint.get("/dumps/")
def listing() -> str:
    """The dumps as a page: what each file is, its size and checksum, its links."""
    return render_template(
        "oai/dumps.html",
        dumps=dumps(services().config),
        latest=LATEST,
        names=FORMAT_NAMES,
    )


@blueprint.get("/dumps/<stamp>/<name>")
def dump_file(stamp: str, name: str) -> Response:
    """A file of the dump `stamp` (or of the newest, `latest`), whole or by ranges."""
    config = services().config
    dump = find(config, stamp)
    path = None if dump is None else file_path(config, dump, name)
    entry = None if dump is None else dump.file(name)
    if dump is None or path is None or entry is None or not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype="application/gzip",
        as_attachment=True,
        download_name=f"{dump.stamp}-{name}",
        conditional=True,
        etag=entry.sha256,
        last_modified=dump.finished,
        max_age=None,
    )
    response.headers["Cache-Control"] = _LISTING_CACHE if stamp == LATEST else _DATED_CACHE
    return response
