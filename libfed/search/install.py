"""The union catalogue search joins an application: GET /api/v1/search and the search page."""

from __future__ import annotations

from flask import Flask

from libfed.kernel.api import serve
from libfed.kernel.services import Services
from libfed.web.menu import add_menu

from . import api, web


def install_search(app: Flask, services: Services) -> None:
    """Its errors are the API's and the pages' shell's; the holders and source names it
    shows come from `services`' hooks."""
    serve(app, api.api)
    app.register_blueprint(web.blueprint)
    add_menu(app, web.MENU)
