"""The harvester's HTTP and parsing against providers that misbehave, over real loopback HTTP."""

from __future__ import annotations

import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache

import pytest
from conftest import FIXTURES
from faulty_provider import Reply, faulty_provider
from lxml import etree
from oaipmh import error as oai_errors

from libfed.harvest.client import HarvestClient
from libfed.harvest.parsing import OAI_NS, NotOAIResponse, parse_response
from libfed.harvest.transport import (
    ComeBackLater,
    HTTPTransport,
    Moved,
    TransportError,
    retry_after,
)
from libfed.kernel.config import HarvestConfig

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
IDENTIFY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
    b'</responseDate><request verb="Identify">http://x/oai</request><Identify>'
    b"<repositoryName>Milli Kitabxana</repositoryName><baseURL>http://x/oai</baseURL>"
    b"<protocolVersion>2.0</protocolVersion><adminEmail>a@x.az</adminEmail>"
    b"<earliestDatestamp>2001-01-01</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
    b"<granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>"
)


class Sleeper:
    """Records the waits the transport asks for instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def transport(sleeper: Sleeper, **settings: object) -> HTTPTransport:
    config = HarvestConfig(**{"timeout_seconds": 2, "max_retries": 3, **settings})
    return HTTPTransport(config, sleep=sleeper, now=lambda: NOW)


def test_a_good_response_is_returned_at_once_with_a_clear_user_agent() -> None:
    sleeper = Sleeper()
    with faulty_provider([Reply(body=IDENTIFY)]) as provider:
        fetched = transport(sleeper, user_agent="libfed-test/1").fetch(
            provider.url, {"verb": "Identify"}
        )
    assert fetched.body == IDENTIFY and fetched.attempts == 1 and sleeper.waits == []
    assert b"user-agent: libfed-test/1" in provider.requests[0].lower()
    assert b"GET /oai?verb=Identify " in provider.requests[0]


@pytest.mark.parametrize(
    "fault",
    [
        Reply(503, b"busy", {"Retry-After": "7"}),
        Reply(500, b"<html>oops</html>"),
        Reply(502),
        Reply(429, b"slow down", {"Retry-After": "3"}),
        Reply(reset=True),
        Reply(body=IDENTIFY, cut_to=100),
        Reply(body=IDENTIFY, stall=3),  # longer than the 2 s read timeout
    ],
    ids=["503", "500", "502", "429", "reset", "truncated", "timeout"],
)
def test_transient_faults_are_retried_until_the_page_arrives(fault: Reply) -> None:
    sleeper = Sleeper()
    with faulty_provider([fault, fault, Reply(body=IDENTIFY)]) as provider:
        fetched = transport(sleeper).fetch(provider.url, {"verb": "Identify"})
    assert fetched.body == IDENTIFY and fetched.attempts == 3
    assert len(sleeper.waits) == 2
    if "Retry-After" in fault.headers:
        assert sleeper.waits == [float(fault.headers["Retry-After"])] * 2


def test_backoff_grows_and_is_jittered() -> None:
    sleeper = Sleeper()
    with faulty_provider([Reply(500)] * 4) as provider, pytest.raises(TransportError) as caught:
        transport(sleeper).fetch(provider.url, {"verb": "Identify"})
    assert len(sleeper.waits) == 3
    assert [int(w) for w in sleeper.waits] == [1, 2, 4]  # 2**attempt plus under a second
    assert "HTTP 500, after 4 attempts" in str(caught.value) and provider.url in str(caught.value)


def test_retry_after_as_http_date() -> None:
    later = NOW + timedelta(seconds=90)
    assert retry_after(format_datetime(later, usegmt=True), NOW) == 90
    assert retry_after("120", NOW) == 120
    assert retry_after("whenever", NOW) is None
    assert retry_after(None, NOW) is None


def test_a_provider_asking_for_hours_is_parked_not_failed() -> None:
    sleeper = Sleeper()
    script = [Reply(429, b"", {"Retry-After": "86400"})]
    with faulty_provider(script) as provider, pytest.raises(ComeBackLater) as caught:
        transport(sleeper, max_retry_after_seconds=3600).fetch(provider.url, {"verb": "Identify"})
    assert caught.value.until == NOW + timedelta(days=1)
    assert sleeper.waits == []


def test_other_client_errors_are_not_retried() -> None:
    sleeper = Sleeper()
    with (
        faulty_provider([Reply(404, b"<html>not here</html>")]) as provider,
        pytest.raises(TransportError, match="HTTP 404"),
    ):
        transport(sleeper).fetch(provider.url, {"verb": "Identify"})
    assert sleeper.waits == [] and len(provider.requests) == 1


def test_an_oai_error_sent_with_a_4xx_status_is_read_as_oai() -> None:
    body = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
        b'</responseDate><request>http://x/oai</request><error code="badVerb">no</error></OAI-PMH>'
    )
    with faulty_provider([Reply(400, body)]) as provider:
        client = HarvestClient(provider.url, transport(Sleeper()))
        with pytest.raises(oai_errors.BadVerbError):
            client.page(verb="Nonsense")


def test_unadvertised_gzip_is_decompressed() -> None:
    with faulty_provider([Reply(body=gzip.compress(IDENTIFY))]) as provider:
        fetched = transport(Sleeper()).fetch(provider.url, {"verb": "Identify"})
    assert fetched.body == IDENTIFY


def test_wrong_charset_header_does_not_matter() -> None:
    body = IDENTIFY.replace(b"Milli Kitabxana", "Milli Kitabxana – Bakı".encode())
    with faulty_provider(
        [Reply(body=body, headers={"Content-Type": "text/xml; charset=ISO-8859-1"})]
    ) as p:
        client = HarvestClient(p.url, transport(Sleeper()))
        assert client.identify().repositoryName() == "Milli Kitabxana – Bakı"


# --- parsing -------------------------------------------------------------------------


def test_an_html_error_page_is_not_taken_for_oai() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )
    with pytest.raises(NotOAIResponse, match=r"HTML page.*502 Bad Gateway"):
        parse_response(page)


def test_garbage_is_refused_with_what_it_begins_with() -> None:
    with pytest.raises(NotOAIResponse, match=r"not well-formed XML.*broken xml"):
        parse_response(b"broken xml")


def test_invalid_utf8_and_illegal_characters_are_cleaned_and_parsed() -> None:
    dirty = IDENTIFY.replace(b"Milli Kitabxana", b"Milli \xff Kitab\x0bxana \xef\xbf\xbe")
    root = parse_response(dirty)
    name = root.findtext(f"{{{OAI_NS}}}Identify/{{{OAI_NS}}}repositoryName")
    assert name == "Milli \ufffd Kitabxana "


def test_unescaped_ampersands_are_repaired_and_entities_kept() -> None:
    sloppy = IDENTIFY.replace(b"Milli Kitabxana", b"Kitab & Jurnal &amp; Q&#x259;zet &#601;")
    root = parse_response(sloppy)
    name = root.findtext(f"{{{OAI_NS}}}Identify/{{{OAI_NS}}}repositoryName")
    assert name == "Kitab & Jurnal & Qəzet ə"


def test_a_response_with_its_namespaces_stripped_is_read_as_oai() -> None:
    stripped = (
        b"<OAI-PMH><responseDate>2014-11-05T09:32:51Z</responseDate><request>x</request>"
        b"<ListRecords><record><header><identifier>oai:x:1</identifier><datestamp>2014-01-01"
        b"</datestamp></header><metadata><dc><title>T</title></dc></metadata></record>"
        b"</ListRecords></OAI-PMH>"
    )
    root = parse_response(stripped)
    assert (
        root.findtext(
            f"{{{OAI_NS}}}ListRecords/{{{OAI_NS}}}record/{{{OAI_NS}}}header/{{{OAI_NS}}}identifier"
        )
        == "oai:x:1"
    )
    # The metadata keeps the (missing) namespace it came with: it is stored as received.
    assert root.find(f".//{{{OAI_NS}}}metadata/dc/title").text == "T"


def test_sickle_sample_responses() -> None:
    sample = FIXTURES / "oai-pmh" / "sickle_ListRecords.xml"
    root = parse_response(sample.read_bytes())
    headers = root.findall(f".//{{{OAI_NS}}}header")
    assert len(headers) == 2 and headers[0].get("status") == "deleted"
    with pytest.raises(NotOAIResponse):
        parse_response((FIXTURES / "oai-pmh" / "sickle_ListRecordsBroken.xml").read_bytes())


def test_client_reads_pages_and_raises_oai_errors_as_exceptions() -> None:
    no_records = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
        b'</responseDate><request verb="ListRecords">http://x/oai</request>'
        b'<error code="noRecordsMatch"/></OAI-PMH>'
    )
    sample = (FIXTURES / "oai-pmh" / "sickle_ListRecords.xml").read_bytes()
    with faulty_provider([Reply(body=sample), Reply(body=no_records)]) as provider:
        client = HarvestClient(provider.url, transport(Sleeper()))
        page = client.page(verb="ListRecords", metadataPrefix="oai_dc")
        assert isinstance(page, etree._Element)
        assert client.last is not None and client.last.status == 200
        with pytest.raises(oai_errors.NoRecordsMatchError):
            client.page(verb="ListRecords", metadataPrefix="oai_dc", **{"from": "2030-01-01"})
    assert b"from=2030-01-01" in provider.requests[1]


# --- bounds: what a hostile provider sends ---------------------------------------------


@cache
def zeros_gzip(megabytes: int) -> bytes:
    """A gzip of `megabytes` MiB of zeros, made without holding them (a ~1000:1 bomb)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


@pytest.mark.parametrize("advertised", [True, False], ids=["content-encoding", "unadvertised"])
def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_limit(advertised: bool) -> None:
    headers = {"Content-Encoding": "gzip"} if advertised else {}
    bomb = zeros_gzip(1024)  # 1 GiB inflated, about 1 MB sent
    with faulty_provider([Reply(body=bomb, headers=headers)]) as provider:
        started = time.monotonic()
        with pytest.raises(TransportError, match="inflates to more than 4 MiB") as caught:
            transport(Sleeper(), max_decompressed_mib=4).fetch(provider.url, {"verb": "Identify"})
    assert time.monotonic() - started < 5 and len(provider.requests) == 1  # not retried
    assert provider.url in str(caught.value)


def test_an_endless_body_is_refused_at_the_size_limit() -> None:
    endless = Reply(stream=lambda: iter(lambda: b"<x>" * 20_000, None))
    with (
        faulty_provider([endless]) as provider,
        pytest.raises(TransportError, match="larger than 2 MiB"),
    ):
        transport(Sleeper(), max_response_mib=2).fetch(provider.url, {"verb": "Identify"})


def test_a_body_announced_too_large_is_not_read() -> None:
    with (
        faulty_provider([Reply(body=IDENTIFY, headers={"Content-Length": str(2**40)})]) as provider,
        pytest.raises(TransportError, match="announces 1048576 MiB"),
    ):
        transport(Sleeper()).fetch(provider.url, {"verb": "Identify"})


@pytest.mark.parametrize("where", ["headers", "body"])
def test_an_answer_dripping_a_byte_at_a_time_ends_at_the_request_deadline(where: str) -> None:
    # Each byte comes well within the 2 s read timeout; the whole never would.
    drip = Reply(body=IDENTIFY, drip=0.05, drip_body_only=where == "body")
    with faulty_provider([drip]) as provider:
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"no complete answer within 1.5 s"):
            transport(Sleeper(), request_deadline_seconds=1.5).fetch(
                provider.url, {"verb": "Identify"}
            )
    assert time.monotonic() - started < 4
    assert len(provider.requests) == 1  # a deadline is not retried: it would only repeat


def test_redirects_on_the_same_host_are_followed() -> None:
    with faulty_provider(
        [Reply(302, headers={"Location": "/moved/oai?verb=Identify"}), Reply(body=IDENTIFY)]
    ) as provider:
        fetched = transport(Sleeper()).fetch(provider.url, {"verb": "Identify"})
    assert fetched.body == IDENTIFY and fetched.url.endswith("/moved/oai?verb=Identify")
    assert b"GET /moved/oai?verb=Identify " in provider.requests[1]


def test_a_redirect_to_another_host_is_not_followed_but_named() -> None:
    with faulty_provider([Reply(body=IDENTIFY)]) as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost")
        redirect = Reply(301, headers={"Location": other + "?verb=Identify#top"})
        with faulty_provider([redirect]) as p, pytest.raises(Moved) as caught:
            transport(Sleeper()).fetch(p.url, {"verb": "Identify"})
    assert caught.value.base_url == other
    assert elsewhere.requests == []  # never asked


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "redirects to a file: address"),
        ("gopher://127.0.0.1:6379/", "redirects to a gopher: address"),
    ],
)
def test_a_redirect_out_of_http_is_refused(location: str, reason: str) -> None:
    with (
        faulty_provider([Reply(302, headers={"Location": location})]) as provider,
        pytest.raises(TransportError, match=reason),
    ):
        transport(Sleeper()).fetch(provider.url, {"verb": "Identify"})


def test_a_redirect_loop_ends_after_a_few_hops() -> None:
    loop = [Reply(302, headers={"Location": "/oai?verb=Identify"})] * 4
    with (
        faulty_provider(loop) as provider,
        pytest.raises(TransportError, match="more than 3 redirects"),
    ):
        transport(Sleeper(), max_redirects=3).fetch(provider.url, {"verb": "Identify"})
    assert len(provider.requests) == 4
