"""The application factory: one configuration in, one Flask application out."""

from __future__ import annotations

from flask import Flask

from libfed.accounts.install import install_accounts
from libfed.accounts.users import caller_for_token
from libfed.exchange.install import install_exchange
from libfed.harvest import sources
from libfed.harvest.install import install_harvest
from libfed.harvest.web import source_panel
from libfed.kernel.api import install_api
from libfed.kernel.callers import ROLES
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.secret import secret_key
from libfed.kernel.services import App, Services
from libfed.oai.install import install_oai
from libfed.search.install import install_search
from libfed.web.pages import exempt_from_csrf, install_shell

# What /api/v1/openapi.json says the API is for.
API_INFO = {
    "title": "libfed exchange API",
    "version": "1",
    "description": (
        "Partners, agreements, shipments and the exchange balance. Roles: "
        + ", ".join(ROLES)
        + " (each may do what the ones before it may). Changes need If-Match "
        "with the ETag of the last read."
    ),
}


def create_app(config: Config, db: Database | None = None) -> Flask:
    """Build the application; the database must already be migrated (`libfed db upgrade`).

    The packages install themselves in this order, which is the order of the main menu
    (its first entry is the home page) and of the OpenAPI document's operations.
    """
    db = db or Database(config.database.url)
    services = Services(
        config,
        db,
        secret_key(db, config.server.secret_key),
        # What the harvester knows, handed to the domains that show it.
        holders=sources.holders,
        source_names=sources.source_names,
        institution_sources=sources.sources_of,
        institution_panels=[source_panel],
        friends=sources.base_urls,
        failed_harvest_sources=sources.failed_sources,
    )
    app = App("libfed", services, static_folder=None)
    install_shell(app, services)
    install_api(
        app,
        services,
        token_caller=caller_for_token,
        cookie_free=exempt_from_csrf,
        info=API_INFO,
    )
    install_accounts(app, services)
    install_exchange(app, services)
    install_search(app, services)
    install_harvest(app, services)
    install_oai(app, services)
    return app
