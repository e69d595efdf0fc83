"""The federation joins the exchange's install: this server's key (read when first used),
its node document, the endpoints peers call, which answer every error as a confirmation,
the message handlers, and its /api/v1 operations. Its pages are the exchange's
(exchange/web), installed with them."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from libfed.kernel.api import serve
from libfed.kernel.services import Services
from libfed.web.pages import exempt_from_csrf

from . import claims, events, offers  # noqa: F401  (message handlers, hooks, signed routes)
from .api import api
from .endpoints import as_confirmation, blueprint
from .identity import FEDERATION_PATH, Keyring
from .reconciliation import reconciliation  # noqa: F401  (the peers' signed route)


def install_federation(app: Flask, services: Services) -> None:
    services.add_part(Keyring(services.db))
    exempt_from_csrf(blueprint)
    app.register_blueprint(blueprint)
    services.errors.own(FEDERATION_PATH, HTTPException, as_confirmation)
    serve(app, api)
