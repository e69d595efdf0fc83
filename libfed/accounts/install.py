"""Accounts join an application: /api/v1/institutions and /api/v1/users (no pages of their own)."""

from __future__ import annotations

from flask import Flask

from libfed.kernel.api import serve
from libfed.kernel.services import Services

from . import institutions_api, users_api


def install_accounts(app: Flask, services: Services) -> None:
    serve(app, institutions_api.api)
    serve(app, users_api.api)
