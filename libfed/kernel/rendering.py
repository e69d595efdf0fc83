"""Who renders an error: the part of the application that owns the request.

A blueprint that answers its errors in its own way declares it on itself (Flask asks
the blueprint that matched first: the JSON API answers JSON, /oai answers HTTP as HTTP).
A URL that no blueprint matched (404, 405) belongs to whoever registered its prefix
here (the API framework /api/v1, the OAI endpoint /oai); every other error goes to the
default renderer, the web pages' shell. No part needs to know another's URLs, so a new
endpoint with errors of its own (XML, say) brings its renderer and edits nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

Render = Callable[[Exception], ResponseReturnValue]
E = TypeVar("E", bound=Exception)


def _as_flask_would(error: Exception) -> ResponseReturnValue:
    """Before a default is registered: an HTTP error as itself, anything else re-raised."""
    if isinstance(error, HTTPException):
        return error
    raise error


@dataclass
class _Owner:
    prefix: str
    kind: type[Exception]
    render: Callable[[Any], ResponseReturnValue]  # takes `kind`

    def owns(self, path: str, error: Exception) -> bool:
        return isinstance(error, self.kind) and (
            path == self.prefix or path.startswith(self.prefix + "/")
        )


@dataclass
class ErrorRendering:
    """The application's renderers of errors that no blueprint rendered itself."""

    default: Render = _as_flask_would
    _owners: list[_Owner] = field(default_factory=list)

    def own(self, prefix: str, kind: type[E], render: Callable[[E], ResponseReturnValue]) -> None:
        """Errors of `kind` at a URL under `prefix` that no blueprint matched are `render`'s."""
        self._owners.append(_Owner(prefix, kind, render))

    def render(self, error: Exception) -> ResponseReturnValue:
        if request.url_rule is None:
            for owner in self._owners:
                if owner.owns(request.path, error):
                    return owner.render(error)
        return self.default(error)
