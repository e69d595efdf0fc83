"""The union catalogue search joins an application: GET /api/v1/search, the search page,
the record pages, and the sitemap and robots.txt that lead crawlers to them."""

from __future__ import annotations

from flask import Flask

from libfed.kernel.api import serve
from libfed.kernel.services import Services
from libfed.web.menu import add_menu

from . import api, record_page, sitemap, web


def install_search(app: Flask, services: Services) -> None:
    """Its errors are the API's and the pages' shell's; the holders and source names it
    shows, and where a record may be added to a shipment, come from `services`' hooks.
    The record pages' identifier converter is known before their routes are."""
    serve(app, api.api)
    app.url_map.converters["oai_identifier"] = record_page.IdentifierConverter
    app.register_blueprint(web.blueprint)
    app.register_blueprint(record_page.blueprint)
    app.register_blueprint(sitemap.blueprint)
    add_menu(app, web.MENU)
