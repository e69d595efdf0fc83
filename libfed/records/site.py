"""This server as its records name it: where each record's public page is, and which
library a local record's holdings (852 $a) belong to.

Aggregators want a record's landing page in the record itself (BASE and CORE in oai_dc
`dc:identifier`, MODS in `location/url`), and a union catalogue wants the holding
library in the MARC. Both depend on settings, not on the record, so the renderers get
them from here when a record is written (import, accession, harvest, `libfed db
rerender`). The page's address is built here and only here: the record pages
(libfed.search.record_page), the sitemap and the renderings must name the same URL.
Changing `[oai] base_url` or `[federation] base_url` therefore needs a rerender, which
`libfed db upgrade` does by itself (libfed.records.rerender.renderings_outdated).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from libfed.kernel.config import Config

RECORD_PAGES = "/records/"  # the path of the record pages under the public root
# What stays as written in the URL's identifier segment: RFC 3986's pchar, less '/'.
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


def segment(identifier: str) -> str:
    """An OAI identifier as the last segment of its page's path: a harvested identifier
    may hold `/`, `..`, `?` or `%`, which would otherwise change the path."""
    return quote(identifier, safe=_SEGMENT_SAFE)


def landing_url(public_base_url: str, identifier: str) -> str:
    """The record's public page: `<public base url>/records/<OAI identifier>`."""
    return public_base_url + RECORD_PAGES + segment(identifier)


@dataclass(frozen=True)
class Site:
    """What the renderings of a record say of this server beyond the record's MARC."""

    public_base_url: str  # without a final slash (Config.public_base_url)
    library: str  # 852 $a of this library's holdings: its ISIL, else its name

    @classmethod
    def of(cls, config: Config) -> Site:
        """From the settings: the ISIL when `[federation] isil` is set (what union
        catalogues match holdings by), else the library's name as its letters give it."""
        name = config.exchange.library_name or config.oai.repository_name
        return cls(config.public_base_url, config.federation.isil or name)

    def landing_url(self, identifier: str) -> str:
        return landing_url(self.public_base_url, identifier)
