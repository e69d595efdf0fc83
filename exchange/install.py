"""The exchange ledger joins an application: its part of /api/v1, its pages and menu,
and its report cache."""

from __future__ import annotations

from flask import Flask

from libfed.kernel.api import serve
from libfed.kernel.services import Services
from libfed.web.menu import add_menu

from . import api, web
from .federation.install import install_federation
from .partners import move_partner
from .reports import ReportCache


def install_exchange(app: Flask, services: Services) -> None:
    """The API's and the pages' errors are rendered by the API framework and the pages'
    shell; which harvest sources a partner has, and what other domains show on its page,
    come from `services`' hooks."""
    services.add_part(ReportCache())
    services.shipment_targets = web.from_search.shipment_targets
    services.institution_movers.append(move_partner)
    serve(app, api.api)
    app.register_blueprint(web.blueprint)
    add_menu(app, web.MENU)
    services.institution_panels.append(web.peer_offers.offers_panel)
    install_federation(app, services)
