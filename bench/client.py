"""The one plain client every server is measured with: requests + lxml."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from lxml import etree

OAI = "{http://www.openarchives.org/OAI/2.0/}"


@dataclass
class Harvest:
    records: int = 0
    pages: int = 0
    seconds: float = 0.0
    queries: list[str] = field(default_factory=list)  # query string of each page, in order

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def harvest(
    base_url: str,
    prefix: str = "oai_dc",
    on_page: Callable[[str, bytes], None] | None = None,
    encoding: str = "identity",
) -> Harvest:
    """A full ListRecords harvest, following resumption tokens to the end.

    Identity encoding by default, so that every server sends the same bytes;
    pass "gzip" to measure what a harvester on a real network would ask for.
    """
    result = Harvest()
    query = urlencode({"verb": "ListRecords", "metadataPrefix": prefix})
    with requests.Session() as session:
        session.headers["Accept-Encoding"] = encoding
        started = time.perf_counter()
        while True:
            response = session.get(f"{base_url}?{query}", timeout=300)
            response.raise_for_status()
            if on_page:
                on_page(query, response.content)
            root = etree.fromstring(response.content)
            result.queries.append(query)
            result.pages += 1
            result.records += len(root.findall(f"{OAI}ListRecords/{OAI}record"))
            token = root.findtext(f"{OAI}ListRecords/{OAI}resumptionToken")
            if not token:
                break
            query = urlencode({"verb": "ListRecords", "resumptionToken": token})
        result.seconds = time.perf_counter() - started
    return result


def page_latency(base_url: str, query: str, repeats: int = 15) -> float:
    """Median seconds to fetch and parse one page."""
    times = []
    with requests.Session() as session:
        session.headers["Accept-Encoding"] = "identity"
        for _ in range(repeats):
            started = time.perf_counter()
            response = session.get(f"{base_url}?{query}", timeout=300)
            etree.fromstring(response.content)
            times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2]
