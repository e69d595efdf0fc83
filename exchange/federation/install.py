"""The federation joins the exchange's install: this server's key, its node document and
the endpoints peers call, which answer every error as a confirmation."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from libfed.kernel.api import serve
from libfed.kernel.services import Services
from libfed.web.pages import exempt_from_csrf

from ..web.peer_offers import offers_panel
from ..web.reconciliation import reconciliation_page  # noqa: F401  (the page's route)
from . import claims, events, offers  # noqa: F401  (message handlers, hooks, signed routes)
from .api import api
from .endpoints import as_confirmation, blueprint
from .identity import FEDERATION_PATH, node_key
from .reconciliation import reconciliation  # noqa: F401  (the peers' signed route)


def install_federation(app: Flask, services: Services) -> None:
    services.add_part(node_key(services.db))
    exempt_from_csrf(blueprint)
    app.register_blueprint(blueprint)
    services.errors.own(FEDERATION_PATH, HTTPException, as_confirmation)
    serve(app, api)
    services.institution_panels.append(offers_panel)
