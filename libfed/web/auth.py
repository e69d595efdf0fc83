"""Who is signed in: the session cookie, sign-in and sign-out, and the role a page needs.

The signed session cookie holds a random session id (and the language); the session
itself is a row on the server (libfed.accounts.sessions), read with the user on every
request. Signing out deletes that row, so a copy of the cookie taken before is refused
after it, while the user's sessions in other browsers go on; a password change or
disabling the user deletes all of them, for every worker at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from werkzeug.wrappers import Response

from libfed.accounts import sessions as web_sessions
from libfed.accounts.models import User
from libfed.accounts.users import caller_for_password
from libfed.kernel.callers import Caller
from libfed.kernel.config import WebConfig
from libfed.kernel.services import services

from .i18n import LANGUAGES
from .menu import Menu

blueprint = Blueprint("auth", __name__)

# Password guessing: failed sign-ins per user name, counted in each server process
# (so `--workers N` allows N times as many). Keyed by the name, not the address: behind
# a proxy every user shares one address, and one guesser would lock everyone out.
SIGN_IN_LIMIT = "10 per 15 minutes"
limiter = Limiter(
    key_func=lambda: request.form.get("name", "").strip().casefold()[:64],
    storage_uri="memory://",
    headers_enabled=True,
)


def signed_in() -> Caller | None:
    """The caller of this request, from its session; None when nobody is signed in."""
    if "caller" in g:
        return g.caller
    caller = None
    token = session.get("session_id")
    if isinstance(token, str):
        with services().db.engine.connect() as connection:
            found = web_sessions.caller_for_session(connection, token)
        if found is not None:
            caller, stale = found
            if stale:
                with services().db.write() as db_session:
                    web_sessions.touch(db_session, token, current_app.permanent_session_lifetime)
    if caller is None and token is not None:
        del session["session_id"]
    g.caller = caller
    return caller


def page(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for signed-in users with at least `role`; others are sent to sign in."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            caller = signed_in()
            if caller is None:
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
            if not caller.may(role):
                abort(403)
            return view(*args, caller=caller, **kwargs)

        return guarded

    return decorator


def local_target(target: str | None) -> str:
    """Only a path of this site: a form's `next` (sign-in, the language, a record added to
    a shipment from the search) must not send anyone elsewhere. Browsers read a
    backslash as a slash and drop tabs and newlines, so `/\\evil.example` would be `//`."""
    home = url_for(services().part(Menu).home)
    if not target:
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return home
    if "\\" in parts.path or any(ord(char) < 0x20 for char in target):
        return home
    return target


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(
    SIGN_IN_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code == 401
)
def sign_in() -> str | Response:
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        with services().db.session() as db_session:
            # The slow hash is checked outside the write transaction: on SQLite the
            # write lock would otherwise be held for its 0.16 s.
            caller = caller_for_password(db_session, name, password) if name else None
            user = db_session.get(User, caller.id) if caller else None
        if user is not None:
            with services().db.write() as db_session:
                token = web_sessions.start(
                    db_session, user.id, current_app.permanent_session_lifetime
                )
            language = session.get("language")
            session.clear()
            session.permanent = True
            session["session_id"] = token
            session["language"] = user.language if user.language in LANGUAGES else language
            return redirect(local_target(request.args.get("next")))
        error = _("The user name or the password is not right.")
    status = 401 if error else 200
    return render_template("web/sign_in.html", error=error, name=name), status


@blueprint.post("/sign-out")
def sign_out() -> Response:
    token = session.get("session_id")
    if isinstance(token, str):
        with services().db.write() as db_session:
            web_sessions.end(db_session, token)
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.sign_in"))


@blueprint.post("/language")
def choose_language() -> Response:
    """Switch the pages' language; a signed-in user keeps it for their next sessions."""
    language = request.form.get("language")
    if language not in LANGUAGES:
        abort(400)
    session["language"] = language
    caller = signed_in()
    if caller is not None:
        with services().db.write() as db_session:
            user = db_session.get(User, caller.id)
            if user is not None:
                user.language = language
    return redirect(local_target(request.form.get("next")))


def install_auth(app: Flask, config: WebConfig) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="libfed_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
    )
    limiter.init_app(app)
    app.register_blueprint(blueprint)
    app.jinja_env.globals["signed_in"] = signed_in
