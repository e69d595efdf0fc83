"""The JSON API under /api/v1: one declaration per operation serves routing, checking and docs.

Each domain declares its operations on an `Api` (method, path, role, body, query
and response models); the same declaration authenticates the caller, parses and
checks the input, and becomes the operation's entry in the OpenAPI document, so
the document cannot drift from what the server accepts. Every error, whatever
raised it, leaves as `{"error": {"code", "message", "fields"}}`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from flask import Blueprint, Flask, Response, current_app, g, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import models_json_schema
from sqlalchemy import Connection
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .callers import Caller
from .errors import Conflict, Invalid, Message, NotFound, ServiceError, Stale
from .fields import MAX_INT
from .paging import PageQuery
from .services import Services, services

PREFIX = "/api/v1"
MAX_BODY_BYTES = 1 << 20
# Arrays and objects within one another: far more than any body of this API needs.
MAX_JSON_DEPTH = 64
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP-level refusal (authentication, malformed request) with its JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.fields, self.headers = status, code, fields, headers or {}
        self.extra = extra


class IdConverter(BaseConverter):
    """Path ids: positive decimal numbers (the endpoint checks they fit INTEGER)."""

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


# ---------------------------------------------------------------- models shared by domains


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None
    allowed: list[str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# ---------------------------------------------------------------- declaring operations


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form: /things/{thing_id}
    summary: str
    tag: str
    role: str | None  # None: public
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    if_match: bool
    csv: bool
    description: str | None
    # Better words than "unknown field" for fields that exist but cannot be sent here.
    hints: dict[str, str]
    # Answers particular to the operation (a 502 when it asks another server), documented.
    errors: dict[str, str] = field(default_factory=dict)


class Api:
    """The operations of one domain, on one blueprint under PREFIX."""

    def __init__(self, name: str) -> None:
        self.blueprint = Blueprint(f"api_{name}", __name__, url_prefix=PREFIX)
        self.blueprint.register_error_handler(Exception, render_error)
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        role: str | None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        if_match: bool = False,
        csv: bool = False,
        hints: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        """Declare an operation. The view gets `caller`, the path ids, and `body`/`query`
        as plain data already checked to be a JSON object / to fit the query model."""

        def decorator(view: Callable[..., Response]) -> Callable[..., Response]:
            operation = Operation(
                method,
                path,
                summary,
                tag,
                role,
                body,
                query,
                response,
                status,
                if_match,
                csv,
                (view.__doc__ or "").strip() or None,
                hints or {},
                errors or {},
            )
            self.operations.append(operation)

            def endpoint(**ids: int | str) -> Response:
                caller = authenticate(operation.role)
                if any(isinstance(i, int) and i > MAX_INT for i in ids.values()):
                    raise NotFound(Message("no such object: ids go up to {max_id}", max_id=MAX_INT))
                arguments: dict[str, Any] = dict(ids)
                if operation.query is not None:
                    arguments["query"] = parse_query(operation.query)
                if operation.body is not None:
                    arguments["body"] = parse_body(operation.body, operation.hints)
                return view(caller=caller, **arguments)

            rule = re.sub(r"\{(\w+)\}", _converter, path)
            self.blueprint.add_url_rule(
                rule, endpoint=view.__name__, view_func=endpoint, methods=[method]
            )
            return view

        return decorator


# A path parameter named `..._id` is an id; any other is a name (a harvest source's),
# one path segment of at most NAME_LENGTH characters, which the view looks up.
NAME_LENGTH = 255


def _converter(parameter: re.Match[str]) -> str:
    name = parameter[1]
    return f"<id:{name}>" if name.endswith("_id") else f"<string(maxlength={NAME_LENGTH}):{name}>"


def _parameter_schema(name: str) -> dict[str, Any]:
    if name.endswith("_id"):
        return {"type": "integer", "minimum": 1, "maximum": MAX_INT}
    return {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH}


# ---------------------------------------------------------------- request side


def authenticate(role: str | None) -> Caller | None:
    if role is None:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="libfed"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthenticated", "send 'Authorization: Bearer TOKEN'", headers=challenge
        )
    with services().db.engine.connect() as connection:
        caller = services().part(Apis).token_caller(connection, token.strip())
    if caller is None:
        raise ApiError(401, "unauthenticated", "the token is unknown or revoked", headers=challenge)
    if not caller.may(role):
        raise ApiError(403, "forbidden", f"this needs the {role} role; you are {caller.role}")
    g.caller = caller
    return caller


def parse_query(model: type[BaseModel]) -> BaseModel:
    arguments = request.args.to_dict(flat=False)
    repeated = sorted(key for key, values in arguments.items() if len(values) > 1)
    if repeated:
        raise ApiError(
            400,
            "bad_query",
            "a query parameter is repeated",
            {key: "given more than once" for key in repeated},
        )
    try:
        return model.model_validate({key: values[0] for key, values in arguments.items()})
    except ValidationError as error:
        raise ApiError(400, "bad_query", "bad query parameters", Invalid.of(error).fields) from None


def parse_body(model: type[BaseModel], hints: dict[str, str]) -> dict:
    """The JSON object of the request, checked against the operation's documented body
    first, so that bad input is a 422 whatever else (a stale If-Match) is also wrong.
    Services check it again, whole, against the object's current state."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = _json_body(request.get_data(cache=False))
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    try:
        model.model_validate(body)
    except ValidationError as error:
        invalid = Invalid.of(error)
        invalid.fields.update({k: hints[k] for k in invalid.fields if k in hints})
        raise invalid from None
    return body


def _json_body(raw: bytes) -> Any:
    """The JSON value of a body, refused (400) when it is no JSON, gives a key twice in
    one object (parsers keep either value: the one checked and the one used could
    differ) or nests deeper than MAX_JSON_DEPTH (code that walks it recursively must
    never meet a RecursionError)."""
    too_deep = ApiError(
        400, "malformed_json", f"the body nests arrays and objects more than {MAX_JSON_DEPTH} deep"
    )
    try:
        body = json.loads(raw, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise too_deep
    return body


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ApiError(
                400,
                "malformed_json",
                f"the key {json.dumps(key, ensure_ascii=False)} is given twice in one object",
            )
        found[key] = value
    return found


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and dicts more than `limit` deep, walked level by
    level rather than recursively; it costs about what parsing the body did."""
    level = [value] if isinstance(value, dict | list) else []
    for _depth in range(limit):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def expected_version() -> int:
    """The version the caller last saw, from If-Match (required: lost updates are not an option).

    `*` is refused like a missing header: for an object that exists it matches whatever
    version is current (RFC 9110, 13.1.1), so it would let a change overwrite one the
    caller never saw. An ETag this server did not issue matches nothing.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        raise ApiError(
            428,
            "precondition_required",
            ("If-Match: * names no version; " if header else "")
            + "send If-Match with the ETag of your last read, so that no one's change is lost",
        )
    for tag in request.if_match.as_set():
        if tag and tag.isdigit() and len(tag) < 10:
            return int(tag)
    return -1


# ---------------------------------------------------------------- response side


def etag(version: int) -> str:
    return f'"{version}"'


def reply(
    data: Any,
    status: int = 200,
    *,
    version: int | None = None,
    location: str | None = None,
) -> Response:
    response = current_app.response_class(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    if version is not None:
        response.headers["ETag"] = etag(version)
    if location is not None:
        response.headers["Location"] = location
    return response


def page_reply(items: list[dict], total: int, query: PageQuery) -> Response:
    return reply({"items": items, "total": total, "page": query.page, "per_page": query.per_page})


def wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is quoted with a leading apostrophe
    (OWASP's advice on CSV injection); numbers, negative ones included, stay numbers,
    whether their decimal mark is a point or, as a page in Russian writes it, a comma."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value.replace(",", ".", 1))
        except ValueError:
            return "'" + value
    return value


def csv_reply(
    columns: list[str], rows: Iterable[dict], filename: str, delimiter: str = ","
) -> Response:
    """UTF-8 with a byte-order mark: spreadsheets then read Cyrillic and Turkish right.
    A page's download in a language whose decimal mark is a comma separates its cells
    with a semicolon, as spreadsheets set to that language expect."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, columns, extrasaction="ignore", lineterminator="\r\n", delimiter=delimiter
    )
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _error(status: int, code: str, message: str, **detail: Any) -> Response:
    body = {"code": code, "message": message}
    body.update({key: value for key, value in detail.items() if value is not None})
    return reply({"error": body}, status)


def render_error(error: Exception) -> Response:
    """Any error of a request to /api/v1 as `{"error": {...}}`, whatever raised it: the
    API's blueprints render their own, and unmatched URLs under PREFIX come here too."""
    if isinstance(error, ApiError):
        response = _error(error.status, error.code, str(error), fields=error.fields, **error.extra)
        response.headers.update(error.headers)
        return response
    if isinstance(error, Invalid):
        return _error(422, "invalid", str(error), fields=error.fields)
    if isinstance(error, NotFound):
        return _error(404, "not_found", str(error))
    if isinstance(error, Conflict):
        return _error(409, "conflict", str(error), allowed=error.allowed)
    if isinstance(error, Stale | StaleDataError):
        return _error(
            412,
            "precondition_failed",
            "it changed since you read it (the If-Match ETag is not current): read it again",
        )
    if isinstance(error, ServiceError):
        return _error(400, "refused", str(error))
    if isinstance(error, HTTPException):
        response = _error(
            error.code or 500,
            re.sub(r"\W+", "_", (error.name or "error").lower()),
            error.description or error.name,
        )
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    log.exception("unhandled error in %s %s", request.method, request.path)
    return _error(500, "internal", "an unexpected error happened; it has been logged")


# ---------------------------------------------------------------- wiring into the app


# A bearer token -> the active user it stands for, or None (unknown, revoked).
TokenCaller = Callable[[Connection, str], Caller | None]


@dataclass(eq=False)
class Apis:
    """The operations one application serves, in the order the OpenAPI document lists
    them (the order the packages serve them in). Who a token stands for and the pages'
    CSRF check are other packages' (accounts, the web shell), handed in by the root:
    callers send a bearer token, and no cookie is read, so no CSRF token either."""

    token_caller: TokenCaller
    cookie_free: Callable[[Blueprint], None]
    info: dict[str, str]
    served: list[Api] = field(default_factory=list)
    _document: str | None = None

    def document(self) -> str:
        """Made at the first request for it, when every package has served its `Api`."""
        if self._document is None:
            self._document = json.dumps(
                openapi_document(self.served, self.info), ensure_ascii=False
            )
        return self._document


def install_api(
    app: Flask,
    services: Services,
    *,
    token_caller: TokenCaller,
    cookie_free: Callable[[Blueprint], None],
    info: dict[str, str],
) -> None:
    """The framework under PREFIX: path ids, the body limit, the OpenAPI document and
    JSON errors at URLs no operation matched; each package then `serve`s its `Api`.
    What the API is for (`info`: OpenAPI's title, version, description) is the
    application's to say."""
    app.url_map.converters["id"] = IdConverter
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    apis = Apis(token_caller, cookie_free, info)
    services.add_part(apis)
    services.errors.own(PREFIX, Exception, render_error)

    docs = Blueprint("api_docs", __name__, url_prefix=PREFIX)
    docs.register_error_handler(Exception, render_error)

    @docs.get("/openapi.json")
    def openapi() -> Response:
        return Response(apis.document(), mimetype="application/json")

    app.register_blueprint(docs)


def serve(app: Flask, api: Api) -> None:
    """Serve a package's operations, listed in the OpenAPI document after those before."""
    apis = services(app).part(Apis)
    apis.cookie_free(api.blueprint)
    app.register_blueprint(api.blueprint)
    apis.served.append(api)


def openapi_document(apis: list[Api], info: dict[str, str]) -> dict:
    operations = [op for api in apis for op in api.operations]
    models: set[type[BaseModel]] = {ErrorResponse}
    for op in operations:
        models.update(m for m in (op.body, op.response) if m is not None)
    _, top = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top.get("$defs", {})
    paths: dict[str, dict] = {}
    errors = {
        "400": "Malformed request or query",
        "404": "Not found",
        "422": "Invalid input; `fields` names each bad field",
    }
    for op in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": op.method.lower() + "_" + re.sub(r"\W+", "_", op.path).strip("_"),
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": _parameter_schema(name),
                }
                for name in re.findall(r"\{(\w+)\}", op.path)
            ],
            "responses": {},
        }
        if op.description:
            entry["description"] = op.description
        if op.query is not None:
            query_schema = op.query.model_json_schema()
            for name, schema in query_schema["properties"].items():
                entry["parameters"].append(
                    {"name": name, "in": "query", "required": False, "schema": schema}
                )
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        if op.if_match:
            entry["parameters"].append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": True,
                    "description": "The ETag of your last read of this object",
                    "schema": {"type": "string"},
                }
            )
        success: dict[str, Any] = {"description": op.summary}
        if op.response is not None:
            success["content"] = {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}
                }
            }
            if op.csv:
                success["content"]["text/csv"] = {"schema": {"type": "string"}}
        entry["responses"][str(op.status)] = success
        codes = dict(errors) | op.errors
        if op.role is not None:
            codes |= {"401": "Missing, unknown or revoked token", "403": "Role too low"}
        if op.method in ("POST", "PATCH"):
            codes |= {
                "409": "Not allowed in the object's current state",
                "413": "Body too large",
                "415": "Body is not JSON",
            }
        if op.csv:  # reports: cached per ledger change, with an ETag
            entry["responses"]["304"] = {"description": "Unchanged since the If-None-Match ETag"}
        if op.if_match:
            codes |= {
                "412": "The object changed since your read (stale If-Match)",
                "428": "If-Match is missing, or * (which names no version)",
            }
        for code, description in sorted(codes.items()):
            entry["responses"][code] = {
                "description": description,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                },
            }
        if op.role is not None:
            entry["security"] = [{"bearer": []}]
            entry["x-required-role"] = op.role
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def partial(model: type[BaseModel]) -> type[BaseModel]:
    """The model with every field optional: the documented body of a PATCH.

    Only the document uses it; a change is checked by merging it into the object's
    current values and validating the result with `model` itself.
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        fields[name] = (annotation | None, Field(default=None, description=info.description))
    return create_model(f"{model.__name__}Patch", __config__=ConfigDict(extra="forbid"), **fields)
