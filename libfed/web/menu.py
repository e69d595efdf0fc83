"""The main menu: each package that has pages adds its sections when it is installed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from libfed.kernel.services import services


@dataclass(frozen=True)
class MenuEntry:
    """A section of the pages in the main menu; the first one is the home page."""

    key: str  # a page sets `section` to it to be marked as the current one
    endpoint: str
    label: Any  # a lazy translation


@dataclass(eq=False)
class Menu:
    """The sections in the order the packages were installed (the root's order)."""

    entries: list[MenuEntry] = field(default_factory=list)

    @property
    def home(self) -> str:
        """The endpoint of the home page: where a signed-in user lands."""
        return self.entries[0].endpoint


def add_menu(app: Flask, entries: list[MenuEntry]) -> None:
    services(app).part(Menu).entries.extend(entries)
