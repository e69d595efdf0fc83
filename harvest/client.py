"""The OAI-PMH client: the `oaipmh` library's protocol handling over our own HTTP.

oaipmh's BaseClient knows the verbs, the error codes and how to read headers and
records; it leaves the request to `makeRequest` and the parse to `parse`. Ours
bring timeouts, retries and Retry-After (harvest.transport) and tolerance for
broken responses (harvest.parsing). Pages are fetched one at a time, so that the
harvest can checkpoint after each.
"""

from __future__ import annotations

from lxml import etree
from oaipmh.client import BaseClient
from oaipmh.metadata import MetadataRegistry

from .parsing import NotOAIResponse, parse_response
from .transport import Fetched, HTTPTransport


class HarvestClient(BaseClient):
    def __init__(
        self, base_url: str, transport: HTTPTransport, registry: MetadataRegistry | None = None
    ) -> None:
        super().__init__(registry or MetadataRegistry())
        self.base_url = base_url
        self.transport = transport
        self.last: Fetched | None = None  # the last response, raw, for the run log
        self.requests = 0  # HTTP requests made, retries included

    def makeRequest(self, **kw: str) -> bytes:
        self.last = self.transport.fetch(self.base_url, kw)
        self.requests += self.last.attempts
        return self.last.body

    def parse(self, xml: bytes) -> etree._Element:
        return parse_response(xml)

    def makeRequestErrorHandling(self, **kw: str) -> etree._Element:
        """As oaipmh's, but a body that is no OAI-PMH (an HTML error page served with
        status 200, garbage) is retried like a 5xx: proxies send them when busy."""
        attempt = 0
        while True:
            try:
                return super().makeRequestErrorHandling(**kw)
            except NotOAIResponse as error:
                if attempt >= self.transport.settings.max_retries:
                    raise
                url = self.last.url if self.last else self.base_url
                self.transport.pause(url, attempt, str(error))
                attempt += 1

    def page(self, **arguments: str) -> etree._Element:
        """One response of any verb, checked for OAI errors (raised as oaipmh's exceptions)."""
        return self.makeRequestErrorHandling(**arguments)
