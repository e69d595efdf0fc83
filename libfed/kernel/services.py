"""What every part of a running application is handed: one typed `Services` object.

The composition root (libfed.root.app) builds it once per application: the
configuration, the database, the secret key, and the hooks by which one domain answers
another's questions without being imported by it (the harvester knows which sources an
institution has and who holds a harvested record; search and the exchange pages ask).
The hooks are named for what they answer, not for who answers: a server without a
harvester would hand in other answers, or none.

Every module reaches the object through one accessor, `services()`; it is kept on the
application itself (`App`), not under string keys in `app.config` or `app.extensions`.

State of one domain (the OAI provider with its token signer, the exchange's report
cache) is kept on the same object as a *part*, found by its own class: the kernel
never names a domain's type, and a lookup is typed without a key to misspell. It is
per application rather than a module global because a process may hold several
applications (a test builds one per configuration and database, a worker its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Flask, current_app
from markupsafe import Markup
from sqlalchemy.orm import Session

from .callers import Caller
from .config import Config
from .db import Database
from .rendering import ErrorRendering


@dataclass(frozen=True)
class ShipmentChoice:
    """Where a record may be added as a shipment item: the form's `action`, which takes the
    record's `identifier`, the chosen `shipment_id` and `next` (a path of this site to come
    back to), and the shipments to choose from, newest first, as (id, label)."""

    action: str
    shipments: list[tuple[int, str]]


# A signed-in caller -> where they may add a record as a shipment item; None when their
# role may not, or no shipment takes items now. Search and the record page ask.
ShipmentTargets = Callable[[Session, Caller], ShipmentChoice | None]


def _no_targets(_session: Session, _caller: Caller) -> None:
    return None


# Harvest source names -> the name of the institution holding each one's records.
Holders = Callable[[Session, Iterable[str]], dict[str, str]]
# The names of the sources harvested records come from.
SourceNames = Callable[[Session], list[str]]
# An institution's id -> the names of the sources its catalogue is harvested from.
InstitutionSources = Callable[[Session, int], list[str]]
# An institution's id -> HTML to show on its page, or None when there is nothing to say.
InstitutionPanel = Callable[[Session, int], Markup | None]
# The base URLs of the repositories this one harvests (OAI-PMH Identify's friends).
Friends = Callable[[Session], list[str]]
# The names of the harvest sources whose last harvest failed: what the dashboard flags.
FailedHarvestSources = Callable[[Session], list[str]]
# A duplicate institution's id, the id of the one it is merged into, who merges: moves
# what the answering domain keeps of the duplicate (shipments, harvest sources) to the
# survivor, in the caller's transaction, so that a merge moves everything or nothing.
MoveInstitution = Callable[[Session, int, int, Caller], None]

T = TypeVar("T")


def _no_holders(_session: Session, _names: Iterable[str]) -> dict[str, str]:
    return {}


def _none(_session: Session, *_args: object) -> list[str]:
    return []


@dataclass(eq=False)
class Services:
    """The configuration, the database and the hooks of one application; see the module."""

    config: Config
    db: Database
    secret_key: str
    shipment_targets: ShipmentTargets = _no_targets
    holders: Holders = _no_holders
    source_names: SourceNames = _none
    institution_sources: InstitutionSources = _none
    institution_panels: list[InstitutionPanel] = field(default_factory=list)
    friends: Friends = _none
    failed_harvest_sources: FailedHarvestSources = _none
    institution_movers: list[MoveInstitution] = field(default_factory=list)
    errors: ErrorRendering = field(default_factory=ErrorRendering)
    _parts: dict[type, object] = field(default_factory=dict, repr=False)

    @property
    def home_country(self) -> str:
        """The country this library is in: an institution elsewhere is international."""
        return self.config.exchange.home_country

    def add_part(self, part: object) -> None:
        """Keep one domain's own state (one object per class) for its modules to find."""
        if type(part) in self._parts:
            raise ValueError(f"a {type(part).__name__} is already a part of these services")
        self._parts[type(part)] = part

    def part(self, kind: type[T]) -> T:
        """The part of this class, which the package owning the class added at install."""
        try:
            return cast(T, self._parts[kind])
        except KeyError:
            raise LookupError(f"no {kind.__name__} was installed in this application") from None


class App(Flask):
    """A Flask application that carries its Services, and renders each error as the
    part of it owning the request wants (`Services.errors`)."""

    def __init__(self, import_name: str, services: Services, **options: Any) -> None:
        super().__init__(import_name, **options)
        self.services = services
        self.secret_key = services.secret_key
        self.register_error_handler(Exception, services.errors.render)


def services(app: Flask | None = None) -> Services:
    """The services of `app`, by default of the application handling this request."""
    return cast(App, app if app is not None else current_app).services
