"""The shell's own pages and hooks: sessions, languages, CSRF, the menu and error pages.

Each package with pages installs them itself (its blueprint, its menu entries); the
shell renders every error that no other part of the application claims
(libfed.kernel.rendering), so a page's refusal is shown as a page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from libfed.kernel.errors import Conflict, NotFound, ServiceError, Stale
from libfed.kernel.services import Services

from .auth import install_auth
from .formatting import install_formatting
from .i18n import install_i18n, translate
from .menu import Menu

blueprint = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
log = logging.getLogger(__name__)


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
    log.exception("unhandled error in %s %s", request.method, request.path)
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


def exempt_from_csrf(blueprint: Blueprint) -> None:
    """No CSRF token for `blueprint`: its callers authenticate otherwise (the API's
    bearer tokens) or not at all (/oai), and it reads no cookie."""
    csrf.exempt(blueprint)


def install_shell(app: Flask, services: Services) -> None:
    """Sessions, languages, CSRF, locale formatting and the menu for the pages, and the
    HTML error page for every error no other part of the application claims."""
    install_i18n(app, services.config.web)
    install_auth(app, services.config.web)
    install_formatting(app)
    csrf.init_app(app)
    app.register_blueprint(blueprint)
    app.after_request(_protect)
    menu = Menu()
    services.add_part(menu)
    app.jinja_env.globals["menu"] = menu
    services.errors.default = page_error
