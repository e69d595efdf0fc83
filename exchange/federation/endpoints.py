"""The protocol's HTTP face: the node document at the well-known address and the
endpoints under /federation/v1 that peers call (signed: no session, no CSRF token).

Every answer is JSON; an error here (an unknown path, a wrong method, a body too large)
is a confirmation with an error code too, so a peer's software reads one shape.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from libfed.kernel.services import services

from .identity import FEDERATION_PATH, WELL_KNOWN_PATH, node_document, own_key
from .messages import Refused
from .receiving import SignedRequest, confirmation, receive

blueprint = Blueprint("federation", __name__)


def signed_request() -> SignedRequest:
    """This request as its signer addressed it: our public root address, not whatever
    host name a proxy in front of us passed on."""
    config = services().config
    url = config.public_base_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    # Larger than a message may be: 413, answered as a confirmation, before it is read.
    request.max_content_length = config.federation.max_message_kib * 1024
    body = request.get_data(cache=True) if request.content_length != 0 else b""
    return SignedRequest(
        method=request.method,
        url=url,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )


@blueprint.get(WELL_KNOWN_PATH)
def node() -> Response:
    own = services()
    response = jsonify(node_document(own.config, own_key(own)))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.post(f"{FEDERATION_PATH}/inbox")
def inbox() -> tuple[Response, int]:
    own = services()
    status, confirmation = receive(own.db, own.config, signed_request())
    return jsonify(confirmation), status


def refused_answer(refused: Refused) -> tuple[Response, int]:
    """A refusal at a signed endpoint other than the inbox (a peer reading our offer
    list or our side of a reconciliation), in the shape the inbox answers one."""
    return jsonify(confirmation(None, refused=refused)), refused.status


@blueprint.errorhandler(HTTPException)
def as_confirmation(error: HTTPException) -> tuple[Response, int]:
    """An HTTP error at or under /federation (a body too large, a wrong method, an unknown
    path) as the protocol's error confirmation."""
    code = "BadRequest" if (error.code or 500) < 500 else "InternalError"
    return refused_answer(Refused(code, error.description or error.name, error.code or 500))
