"""The application factory: one configuration in, one Flask application out."""

from __future__ import annotations

from flask import Flask

from libfed.accounts import institutions_api as institution_views
from libfed.accounts import users_api as user_views
from libfed.exchange import web as exchange_web
from libfed.exchange.api import api as exchange_api
from libfed.exchange.catalogue import PARTNER_SOURCES
from libfed.harvest import web as harvest_web
from libfed.harvest.sources import base_urls, holders, source_names, sources_of
from libfed.kernel.api import install
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.secret import secret_key
from libfed.oai.endpoint import blueprint as oai_blueprint
from libfed.oai.provider import Provider
from libfed.oai.tokens import TokenSigner
from libfed.search import api as search_views
from libfed.search import web as search_web
from libfed.web.formatting import install_formatting
from libfed.web.pages import install_shell, page_error

# Every domain's part of /api/v1, in the order the OpenAPI document lists them.
APIS = [institution_views.api, user_views.api, exchange_api, search_views.api]


def create_app(config: Config, db: Database | None = None) -> Flask:
    """Build the application; the database must already be migrated (`libfed db upgrade`)."""
    app = Flask("libfed", static_folder=None)
    db = db or Database(config.database.url)
    secret = secret_key(db, config.server.secret_key)
    app.config["SECRET_KEY"] = secret
    app.config["LIBFED"] = config
    app.extensions["libfed.kernel.db"] = db
    app.extensions["libfed.oai"] = Provider(
        config.oai, TokenSigner(secret, config.oai.token_ttl_seconds), friends=base_urls
    )
    app.extensions[search_views.HOLDERS] = holders
    app.extensions[PARTNER_SOURCES] = sources_of
    app.extensions[search_web.SOURCES] = source_names
    app.register_blueprint(oai_blueprint)
    install(app, APIS, page_error)
    install_shell(
        app,
        exempt=[oai_blueprint, *(api.blueprint for api in APIS)],
        menu=exchange_web.MENU + search_web.MENU + harvest_web.MENU,
    )
    install_formatting(app)
    app.register_blueprint(exchange_web.blueprint)
    app.register_blueprint(harvest_web.blueprint)
    app.register_blueprint(search_web.blueprint)
    app.extensions["libfed.partner_panels"].append(harvest_web.source_panel)
    return app
