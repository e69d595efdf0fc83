"""The OAI-PMH data provider joins an application: /oai and its provider, and the bulk
paths beside it: the dumps (/dumps/) and ResourceSync (/.well-known/resourcesync)."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from libfed.kernel.services import Services
from libfed.web.menu import add_menu
from libfed.web.pages import exempt_from_csrf

from . import dumps_web, resourcesync, web
from .endpoint import as_http, blueprint
from .provider import Provider
from .tokens import TokenSigner


def install_oai(app: Flask, services: Services) -> None:
    """The provider (its resumption tokens signed with the application's secret) is a
    part of `services`, for the endpoint to find; harvesters post without a CSRF token;
    an unknown URL under /oai is answered as HTTP, as the endpoint's own errors are."""
    config = services.config.oai
    signer = TokenSigner(services.secret_key, config.token_ttl_seconds)
    services.add_part(Provider(config, signer, friends=services.friends))
    exempt_from_csrf(blueprint)
    app.register_blueprint(blueprint)
    app.register_blueprint(dumps_web.blueprint)
    app.register_blueprint(resourcesync.blueprint)
    services.errors.own("/oai", HTTPException, as_http)
    # The sets page (an administrator defines sets by rules): the provider's own.
    app.register_blueprint(web.blueprint)
    add_menu(app, web.MENU)
