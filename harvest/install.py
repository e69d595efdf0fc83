"""The harvester joins an application: its pages and their menu entry.

What it knows that other domains show (who holds a source, an institution's sources
and their panel, the repositories it harvests) the root hands them as hooks of
`Services`; its commands are the CLI's (libfed.harvest.cli), not the application's.
"""

from __future__ import annotations

from flask import Flask

from libfed.kernel.services import Services
from libfed.web.menu import add_menu

from .alerts import alert_text
from .history_web import install_history
from .sources import move_institution
from .web import MENU, blueprint


def install_harvest(app: Flask, services: Services) -> None:
    """Its pages' errors are the pages' shell's. A merged duplicate institution's
    sources move to the survivor with the rest of the merge."""
    services.institution_movers.append(move_institution)
    app.register_blueprint(blueprint)
    app.jinja_env.globals["alert_text"] = alert_text  # a run's alerts, on its page
    add_menu(app, MENU)
    install_history(app)  # runs' changes and history, statistics: pages and /api/v1/harvest
