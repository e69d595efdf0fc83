"""The /oai endpoint: HTTP in, OAI-PMH out, compressed when the harvester asks.

Protocol errors are HTTP 200 (a 4xx stops validators and many harvesters); a
database that is busy or gone is 503 with Retry-After, which harvesters retry.
"""

from __future__ import annotations

import logging
import zlib
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import OperationalError

from libfed.db import Database

from . import xml as oxml
from .arguments import parse
from .dates import now_utc
from .errors import UNPARSED, OAIError
from .provider import Provider

blueprint = Blueprint("oai", __name__)
log = logging.getLogger(__name__)

_WBITS = {"gzip": 31, "deflate": 15}  # HTTP "deflate" is the zlib format
# Level 3 measured 6x smaller pages at half the time of level 6 (6.6x): pages are
# large and made on every request, so the cheap levels pay.
_LEVEL = 3


def _negotiate() -> str | None:
    accepted = request.accept_encodings
    for name in ("gzip", "deflate"):
        if accepted[name] > 0:
            return name
    return None


def _arguments() -> dict[str, list[str]]:
    if request.method == "POST":
        return {name: request.form.getlist(name) for name in request.form}
    # Not request.args: werkzeug decodes the raw query string strictly, so a byte
    # that is not UTF-8 (a harvester sending Latin-1 unencoded) would be a 500.
    query = request.query_string.decode("utf-8", "replace")
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        values.setdefault(name, []).append(value)
    return values


@blueprint.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    provider: Provider = current_app.extensions["libfed.oai"]
    db: Database = current_app.extensions["libfed.db"]
    now = now_utc()
    echoed: dict[str, str] | None = None
    try:
        oai_request = parse(_arguments())
        echoed = {"verb": oai_request.verb, **oai_request.arguments}
        with db.session() as session, session.begin():
            body = provider.respond(session, oai_request, now)
    except OAIError as error:
        if error.codes & UNPARSED:
            echoed = None
        body = list(oxml.errors(error.errors))
    except OperationalError:
        log.exception(
            "database unavailable while answering %s?%s",
            request.path,
            request.query_string.decode("utf-8", "replace"),
        )
        return Response(
            "The repository is busy; please retry.\n",
            status=503,
            headers={"Retry-After": "30"},
            mimetype="text/plain",
        )
    payload = oxml.envelope(provider.config.base_url, now, echoed, body)
    response = Response(payload, content_type="text/xml; charset=utf-8")
    response.vary.add("Accept-Encoding")
    encoding = _negotiate()
    if encoding:
        compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS[encoding])
        response.set_data(compressor.compress(payload) + compressor.flush())
        response.headers["Content-Encoding"] = encoding
    return response
