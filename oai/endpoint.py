"""The /oai endpoint: HTTP in, OAI-PMH out, compressed when the harvester asks.

Protocol errors are HTTP 200 (a 4xx stops validators and many harvesters); a
database that is busy or gone is 503 with Retry-After, which harvesters retry.

An HTTP error (an unknown path under /oai, a method it does not take) is answered as
plain HTTP, never as the web pages' error page: harvesters are not browsers.

A browser is shown each response through oai2.xsl, named in an xml-stylesheet
processing instruction that harvesters ignore. Records hold what partners sent, so
the response forbids every script: an XHTML <script> or onerror in a record must not
run on this origin, where a signed-in coordinator's pages are.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, request, send_from_directory, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from libfed.kernel.services import services

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

# Browsers fetch an XSLT stylesheet under script-src-elem (Chromium refuses oai2.xsl
# under script-src 'none'), so elements may load scripts from this server; inline
# script and event handlers may not, and nosniff on every response of the app keeps
# anything but its own JavaScript files from being run. The page the XSLT makes keeps
# this policy: its stylesheet comes from here; no plugins, frames, forms or <base>.
POLICY = (
    "default-src 'none'; script-src 'none'; script-src-elem 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {"oai2.xsl": "application/xslt+xml", "oai2.css": "text/css"}


def as_http(error: HTTPException) -> HTTPException:
    """An HTTP error under /oai as werkzeug says it: status, headers (Allow) and all."""
    return error


blueprint.register_error_handler(HTTPException, as_http)


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


@blueprint.get("/oai/static/<name>")
def static(name: str) -> Response:
    """The browser view's XSLT and CSS, each with its own type (not the platform's guess)."""
    if name not in _STATIC_TYPES:
        abort(404)
    return send_from_directory(_STATIC, name, mimetype=_STATIC_TYPES[name])


# "/oai/" is answered, not redirected: a harvester may not repeat a POST at a redirect.
@blueprint.route("/oai", methods=["GET", "POST"])
@blueprint.route("/oai/", methods=["GET", "POST"])
def endpoint() -> Response:
    provider = services().part(Provider)
    db = services().db
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
    stylesheet = url_for("oai.static", name="oai2.xsl")
    payload = oxml.envelope(provider.config.base_url, now, echoed, body, stylesheet)
    response = Response(payload, content_type="text/xml; charset=utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.vary.add("Accept-Encoding")
    encoding = _negotiate()
    if encoding:
        compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS[encoding])
        response.set_data(compressor.compress(payload) + compressor.flush())
        response.headers["Content-Encoding"] = encoding
    return response
