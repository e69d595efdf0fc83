"""The shell's own pages and hooks: CSRF, error pages, and the panels other domains add.

A domain that wants to show something on another domain's page (the harvester on a
partner's page) registers a panel here; the app factory wires them, so no domain
imports another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from libfed.kernel.errors import Conflict, NotFound, ServiceError, Stale

from .auth import install_auth
from .i18n import install_i18n, translate

blueprint = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()

# (session, institution id) -> HTML for the partner page, or None when there is nothing.
PartnerPanel = Callable[[Session, int], Markup | None]


@dataclass(frozen=True)
class MenuEntry:
    """A section of the pages in the main menu; the first one is the home page."""

    key: str  # a page sets `section` to it to be marked as the current one
    endpoint: str
    label: Any  # a lazy translation


def _back() -> Response:
    return redirect(request.referrer or request.path, code=303)


def page_error(error: Exception) -> Response | tuple[str, int]:
    """What a page shows for a refusal it did not handle itself."""
    if isinstance(error, NotFound):
        return render_template("web/error.html", code=404, message=translate(error)), 404
    if isinstance(error, Stale | StaleDataError):
        flash(
            _("Someone changed this while you were looking at it. Here it is as it is now."),
            "error",
        )
        return _back()
    if isinstance(error, Conflict | ServiceError):
        flash(translate(error.args[0] if error.args else error), "error")
        return _back()
    if isinstance(error, CSRFError):
        return render_template(
            "web/error.html",
            code=400,
            message=_("The form was too old to be accepted. Please send it again."),
        ), 400
    if isinstance(error, HTTPException):
        return render_template("web/error.html", code=error.code, message=None), error.code or 500
    return render_template("web/error.html", code=500, message=None), 500


# Every response, whatever made it (a page, /oai, the API, a CSV, a static file, an
# error, a redirect): the browser takes the declared type and never guesses another
# (a record's text sniffed as HTML), and nothing is framed or leaks its URL elsewhere.
_EVERY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Pages: scripts, styles and images from this server only (Chart.js is vendored); no
# framing (clickjacking of the forms' buttons); forms post only here.
_PAGE = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}
# Anything else (JSON, CSV, plain text, scripts, styles, images), should a browser
# open it as a document: it may load and run nothing. /oai sets its own (libfed.oai.endpoint).
_DATA = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}


def _protect(response: Response) -> Response:
    for name, value in (_PAGE if response.mimetype == "text/html" else _DATA).items():
        response.headers.setdefault(name, value)
    for name, value in _EVERY.items():
        response.headers.setdefault(name, value)
    return response


def install_shell(app: Flask, exempt: list[Blueprint], menu: list[MenuEntry]) -> None:
    """Sessions, languages and CSRF for the pages; `exempt` blueprints (the API, OAI)
    authenticate otherwise and take no cookies, so no CSRF token. The domains' pages
    are reached through `menu`, which the app factory puts together."""
    install_i18n(app)
    install_auth(app)
    csrf.init_app(app)
    for other in exempt:
        csrf.exempt(other)
    app.register_blueprint(blueprint)
    app.after_request(_protect)
    app.config["LIBFED_HOME"] = menu[0].endpoint
    app.jinja_env.globals.update(menu=menu, home_endpoint=menu[0].endpoint)
    app.extensions.setdefault("libfed.partner_panels", [])
