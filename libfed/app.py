"""The application factory: one configuration in, one Flask application out."""

from __future__ import annotations

from flask import Flask

from exchange import web as exchange_web
from exchange.catalogue import PARTNER_SOURCES
from exchange.views import api as exchange_api
from harvest import web as harvest_web
from harvest.sources import base_urls, holders, source_names, sources_of
from oai.provider import Provider
from oai.tokens import TokenSigner
from oai.views import blueprint as oai_blueprint

from . import institution_views, user_views
from .api import install
from .config import Config
from .db import Database
from .search import views as search_views
from .search import web as search_web
from .secret import secret_key
from .web.formatting import install_formatting
from .web.pages import install_shell, page_error

# Every domain's part of /api/v1, in the order the OpenAPI document lists them.
APIS = [institution_views.api, user_views.api, exchange_api, search_views.api]


def create_app(config: Config, db: Database | None = None) -> Flask:
    """Build the application; the database must already be migrated (`libfed db upgrade`)."""
    app = Flask("libfed", static_folder=None)
    db = db or Database(config.database.url)
    secret = secret_key(db, config.server.secret_key)
    app.config["SECRET_KEY"] = secret
    app.config["LIBFED"] = config
    app.extensions["libfed.db"] = db
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
