"""A hostile partner: every attack a provider can make, each beside sound records.

Each case harvests a scripted provider over loopback into a second instance (the
aggregator), then reads that instance's /oai as a downstream harvester would: the
run ends with a reason (never a traceback, never left running), within its time;
the sound records are kept; /oai stays valid against the schemas; and nothing of
the attack is served.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.sax.saxutils import escape

import pytest
from conftest import AGGREGATOR, FIXTURES, parse_valid, write_config
from faulty_provider import Reply, faulty_provider
from lxml import etree
from sqlalchemy import select
from test_harvest_listing import page, record
from test_harvest_transport import zeros_gzip

from libfed.harvest.models import QuarantinedRecord, Run, Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.root.app import create_app

IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
SOUND = record("oai:x:sound", title="Kitabi-Dədə Qorqud")
OAI_DC_OPEN = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
)


def dc_record(identifier: str, inside: str) -> str:
    """A record whose oai_dc holds `inside` as it is, hostile or not."""
    return (
        f"<record><header><identifier>{identifier}</identifier><datestamp>2026-11-20"
        f"</datestamp></header><metadata>{OAI_DC_OPEN}{inside}</oai_dc:dc></metadata></record>"
    )


def marc_record(identifier: str, title: str) -> str:
    return (
        f"<record><header><identifier>{identifier}</identifier><datestamp>2026-11-20"
        '</datestamp></header><metadata><record xmlns="http://www.loc.gov/MARC21/slim">'
        "<leader>00000nam a2200000 a 4500</leader>"
        '<controlfield tag="001">h1</controlfield>'
        f'<datafield tag="245" ind1="0" ind2="0"><subfield code="a">{title}</subfield>'
        "</datafield></record></metadata></record>"
    )


def with_doctype(body: bytes, declarations: str) -> bytes:
    """`body` (a page) with an internal DTD subset before its root element."""
    return body.replace(b"<OAI-PMH", f"<!DOCTYPE OAI-PMH [{declarations}]><OAI-PMH".encode(), 1)


@dataclass
class Outcome:
    run: Run
    served: dict[str, bytes]  # prefix -> the aggregator's whole ListRecords, pages joined
    quarantined: list[str]
    identifiers: set[str]  # origins of the live records held

    @property
    def log(self) -> str:
        return " | ".join(error["message"] for error in self.run.errors)


def _list_records(client, prefix: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    bodies, url = [], f"/oai?verb=ListRecords&metadataPrefix={prefix}"
    while url:
        body = client.get(url).data
        bodies.append(body)
        token = etree.fromstring(body).findtext(".//{*}resumptionToken")
        url = f"/oai?verb=ListRecords&resumptionToken={token}" if token else ""
    return bodies


def run_against(
    aggregator: tuple[Config, Database],
    oai_schema: etree.XMLSchema,
    script: list[Reply],
    prefix: str = "oai_dc",
    **settings: object,
) -> Outcome:
    config, db = aggregator
    config = config.model_copy(
        update={"harvest": config.harvest.model_copy(update={"timeout_seconds": 2, **settings})}
    )
    with faulty_provider([Reply(body=IDENTIFY), *script]) as provider:
        with db.write() as session:
            session.add(Source(name="p", base_url=provider.url, prefix=prefix, sets=[]))
        run = harvest(db, config, "p")
    assert run.status != "running" and run.finished_at is not None
    client = create_app(config, db).test_client()
    served = {}
    for format_prefix in ("oai_dc", "marc21"):
        bodies = _list_records(client, format_prefix)
        for body in bodies:
            parse_valid(oai_schema, body)  # everything served validates, whatever came
        served[format_prefix] = b"".join(bodies)
    with db.session() as session:
        quarantined = list(session.scalars(select(QuarantinedRecord.reason)))
    live = etree.fromstring(
        client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data
    ).findall(".//{*}header")
    prefix_of_ours = f"oai:{AGGREGATOR}:p:"
    identifiers = {
        h.findtext("{*}identifier").removeprefix(prefix_of_ours)
        for h in live
        if h.get("status") != "deleted"
    }
    return Outcome(run, served, quarantined, identifiers)


def altered(served: bytes, identifier: str) -> str:
    """The provenance's `altered` of the served oai_dc record from `identifier`."""
    for element in etree.fromstring(b"<all>" + served.replace(b"<?xml", b"<?x") + b"</all>").iter(
        "{*}record"
    ):
        if element.findtext(".//{*}originDescription/{*}identifier") == identifier:
            return element.find(".//{*}originDescription").get("altered")
    raise AssertionError(f"{identifier} is not served")


# ------------------------------------------------------------------ records repaired


SCRIPT = '<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(document.cookie)</h:script>'
IMAGE = '<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x" onerror="alert(1)"/>'


@pytest.mark.parametrize(
    ("inside", "kept", "gone"),
    [
        (f"<dc:title>Xəmsə</dc:title>{SCRIPT}", "Xəmsə", ["<h:script", "alert", "xhtml"]),
        (f"<dc:title>Xəmsə {SCRIPT}</dc:title>", "Xəmsə", ["<h:script", "alert", "xhtml"]),
        (f"<dc:title>Xəmsə</dc:title>{IMAGE}", "Xəmsə", ["img", "onerror"]),
        (
            "<dc:title>Xəmsə <h:b xmlns:h='http://www.w3.org/1999/xhtml'>II</h:b></dc:title>",
            "Xəmsə II",
            ["<h:b", "xhtml"],
        ),
        ("stray text<dc:title>Xəmsə</dc:title>more", "Xəmsə", ["stray text", "more"]),
        (
            '<dc:title onclick="alert(1)" xml:lang="az">Xəmsə</dc:title>',
            'xml:lang="az"',
            ["onclick"],
        ),
        ('<dc:title xml:lang="not a language">Xəmsə</dc:title>', "Xəmsə", ["not a language"]),
        (
            "<dc:title>Xəmsə</dc:title><dc:nonsense>n</dc:nonsense><!-- c --><?pi x?>",
            "Xəmsə",
            ["nonsense", "<!--", "<?pi"],
        ),
        ("<dc:title>X" + "<b>" * 1500 + "əmsə" + "</b>" * 1500 + "</dc:title>", "Xəmsə", ["<b>"]),
    ],
    ids=[
        "script",
        "script-inside",
        "image",
        "markup",
        "stray-text",
        "attribute",
        "lang",
        "foreign-dc",
        "1500-deep",
    ],
)
def test_oai_dc_defects_are_repaired_and_marked_altered(  # type: ignore[no-untyped-def]
    aggregator, oai_schema, inside: str, kept: str, gone: list[str]
) -> None:
    body = page(SOUND, dc_record("oai:x:bad", inside), token="")
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert outcome.identifiers == {"oai:x:sound", "oai:x:bad"}
    served = outcome.served["oai_dc"].decode()
    assert kept in served
    for attack in gone:
        assert attack not in served
    assert altered(outcome.served["oai_dc"], "oai:x:bad") == "true"
    assert altered(outcome.served["oai_dc"], "oai:x:sound") == "false"
    assert (outcome.run.added, outcome.run.repaired) == (2, 1)


def test_internal_entities_are_expanded_to_text_external_ones_dropped(
    aggregator, oai_schema
) -> None:  # type: ignore[no-untyped-def]
    body = with_doctype(
        page(
            SOUND,
            dc_record("oai:x:internal", "<dc:title>&book; ikinci</dc:title>"),
            dc_record("oai:x:external", "<dc:title>Sirr &secret;</dc:title>"),
            dc_record("oai:x:attribute", '<dc:title xml:lang="&lang;">Dil</dc:title>'),
            token="",
        ),
        '<!ENTITY book "Xəmsə &part;"><!ENTITY part "II"><!ENTITY lang "az">'
        '<!ENTITY secret SYSTEM "file:///etc/passwd">',
    )
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    served = outcome.served["oai_dc"].decode()
    assert "Xəmsə II ikinci" in served and ">Sirr <" in served and 'xml:lang="az"' in served
    assert "&book;" not in served and "&secret;" not in served and "root:" not in served
    assert "DOCTYPE" not in served
    for identifier in ("oai:x:internal", "oai:x:external", "oai:x:attribute"):
        assert altered(outcome.served["oai_dc"], identifier) == "true"
    assert altered(outcome.served["oai_dc"], "oai:x:sound") == "false"


def test_entities_a_page_does_not_declare_are_read_as_html_or_kept_as_text(  # type: ignore[no-untyped-def]
    aggregator, oai_schema
) -> None:
    body = page(SOUND, dc_record("oai:x:html", "<dc:title>Caf&eacute;&nbsp;&nope;</dc:title>"))
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert "<dc:title>Café\u00a0&amp;nope;</dc:title>" in outcome.served["oai_dc"].decode()
    assert altered(outcome.served["oai_dc"], "oai:x:html") == "true"
    assert altered(outcome.served["oai_dc"], "oai:x:sound") == "false"


def test_an_entity_in_marcxml_is_expanded(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    body = with_doctype(page(marc_record("oai:x:m", "&t; nəşr"), token=""), '<!ENTITY t "Xəmsə">')
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)], prefix="marc21")
    assert outcome.run.status == "succeeded", outcome.log
    assert "Xəmsə nəşr" in outcome.served["marc21"].decode()
    assert b"&t;" not in outcome.served["marc21"]


def test_an_entity_in_dc_without_namespaces_is_expanded(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    body = (
        b'<!DOCTYPE OAI-PMH [<!ENTITY t "Xamsa">]><OAI-PMH><responseDate>2026-11-23T12:00:01Z'
        b"</responseDate><request>x</request><ListRecords><record><header><identifier>oai:x:n"
        b"</identifier><datestamp>2026-11-21</datestamp></header><metadata><dc><title>&t; 2"
        b"</title></dc></metadata></record></ListRecords></OAI-PMH>"
    )
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert b"Xamsa 2" in outcome.served["oai_dc"] and b"&t;" not in outcome.served["oai_dc"]


@pytest.mark.parametrize("reference", ["&#0;", "&#x1;", "&#xFFFE;", "\x0b", "&#xD800;"])
def test_a_character_xml_cannot_carry_costs_only_itself(
    aggregator, oai_schema, reference: str
) -> None:  # type: ignore[no-untyped-def]
    body = page(SOUND, dc_record("oai:x:bad", f"<dc:title>Xəm{reference}sə</dc:title>"), token="")
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert outcome.identifiers == {"oai:x:sound", "oai:x:bad"}
    assert "<dc:title>Xəmsə</dc:title>" in outcome.served["oai_dc"].decode()
    assert altered(outcome.served["oai_dc"], "oai:x:bad") == "true"
    assert altered(outcome.served["oai_dc"], "oai:x:sound") == "false"


# ------------------------------------------------------------------ records refused


def test_records_that_cannot_be_made_valid_are_quarantined_alone(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    wrong_root = (
        "<record><header><identifier>oai:x:root</identifier><datestamp>2026-11-20</datestamp>"
        '</header><metadata><oai_dc:other xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/'
        'oai_dc/"/></metadata></record>'
    )
    bad_marc = marc_record("oai:x:marc", "x").replace('tag="245"', 'tag="2x5!"')
    body = with_doctype(
        page(
            SOUND,
            wrong_root,
            bad_marc,
            dc_record("oai:x:big", "<dc:title>&big;</dc:title>"),
            token="",
        ),
        f'<!ENTITY big "{"x" * 20_000}">',
    )
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert outcome.identifiers == {"oai:x:sound"}
    assert len(outcome.quarantined) == 3
    assert any("not oai_dc" in reason for reason in outcome.quarantined)
    assert any("&big; stands for more than 10000 characters" in r for r in outcome.quarantined)


# ------------------------------------------------------------------ pages refused


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (b"<a>" * 3000 + b"x" + b"</a>" * 3000, "not well-formed XML"),
        (None, "not well-formed XML"),  # a billion laughs
        (
            b"<html><head><title>" + b"<script>steal()</script>" * 50 + b"</title></html>",
            "HTML page",
        ),
        (b"SECRET-INTERNAL-SERVICE-ANSWER " * 1000, "not well-formed XML"),
    ],
    ids=["3000-deep", "billion-laughs", "html", "not-xml"],
)
def test_a_page_that_cannot_be_read_ends_the_run_with_a_short_reason(  # type: ignore[no-untyped-def]
    aggregator, oai_schema, attack: bytes | None, reason: str
) -> None:
    if attack is None:
        laughs = '<!ENTITY a "aaaaaaaaaa">' + "".join(
            f'<!ENTITY a{i} "{(("&a" + (str(i - 1) if i > 1 else "") + ";") * 10)}">'
            for i in range(1, 9)
        )
        attack = with_doctype(page(dc_record("oai:x:l", "<dc:title>&a8;</dc:title>")), laughs)
    first = page(SOUND, token="t1")
    outcome = run_against(aggregator, oai_schema, [Reply(body=first), Reply(body=attack)])
    assert outcome.run.status == "partial"
    assert reason in outcome.log
    assert outcome.identifiers == {"oai:x:sound"}
    message = outcome.run.errors[-1]["message"]
    # No more than a short excerpt of what came is shown: 40 characters.
    assert len(message) < 250 and message.count("steal()") <= 2 and message.count("SECRET") <= 2
    assert "Traceback" not in outcome.log


# ------------------------------------------------------------------ transport


def test_a_gzip_bomb_fails_the_run_quickly(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    outcome = run_against(
        aggregator,
        oai_schema,
        [Reply(body=page(SOUND, token="t1")), Reply(body=zeros_gzip(1024))],
        max_decompressed_mib=8,
    )
    assert time.monotonic() - started < 20
    assert outcome.run.status == "partial" and "inflates to more than 8 MiB" in outcome.log
    assert outcome.identifiers == {"oai:x:sound"}


def test_a_dripping_provider_fails_the_run_at_its_deadline(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    outcome = run_against(
        aggregator,
        oai_schema,
        [Reply(body=page(SOUND, token="t1")), Reply(body=page(SOUND), drip=0.05)],
        request_deadline_seconds=1.5,
        max_retries=2,
    )
    assert time.monotonic() - started < 15
    assert outcome.run.status == "partial" and "no complete answer within 1.5 s" in outcome.log


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "redirects to a file: address"),
        ("/oai?verb=ListRecords&metadataPrefix=oai_dc", "more than 5 redirects"),
        ("http://localhost:6379/", "redirects to another host, http://localhost:6379/"),
    ],
    ids=["file", "loop", "internal-service"],
)
def test_redirects_a_run_may_not_follow_end_it_with_the_reason(  # type: ignore[no-untyped-def]
    aggregator, oai_schema, location: str, reason: str
) -> None:
    redirect = Reply(302, headers={"Location": location})
    outcome = run_against(aggregator, oai_schema, [redirect] * 7)
    assert outcome.run.status == "failed" and reason in outcome.log, outcome.log
    if "another host" in reason:
        assert outcome.run.errors[-1]["moved_to"] == "http://localhost:6379/"


OAI_IDENTIFIER = re.compile(
    r"oai:[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+:[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+"
)


def test_identifiers_the_oai_identifier_syntax_forbids_are_encoded_reversibly(  # type: ignore[no-untyped-def]
    aggregator, oai_schema
) -> None:
    originals = ["oai:x:a b", "oai:x:kitab/Ниẓами", "oai:x:<script>", "oai:x:a%20b", 'oai:x:a"b']
    body = page(*(record(escape(original)) for original in originals), token="")
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    served = etree.fromstring(outcome.served["oai_dc"])
    ours = [h.text for h in served.iter("{*}identifier") if h.getparent().tag.endswith("header")]
    assert len(set(ours)) == len(originals)  # "a b" and "a%20b" stay two records
    assert all(OAI_IDENTIFIER.fullmatch(identifier) for identifier in ours), ours
    assert {unquote(i.removeprefix(f"oai:{AGGREGATOR}:p:")) for i in ours} == set(originals)
    # The provenance names each record as its source does.
    kept = {e.text for e in served.iter("{*}originDescription") for e in e.iter("{*}identifier")}
    assert kept == set(originals)


def test_identify_names_as_friends_only_sources_whose_last_run_went_through(  # type: ignore[no-untyped-def]
    aggregator, oai_schema
) -> None:
    config, db = aggregator

    def friends() -> list[str]:
        body = create_app(config, db).test_client().get("/oai?verb=Identify").data
        return [u.text for u in parse_valid(oai_schema, body).iter("{*}baseURL")][1:]

    outcome = run_against(aggregator, oai_schema, [Reply(body=page(SOUND, token=""))])
    assert outcome.run.status == "succeeded"
    with db.session() as session:
        url = session.scalars(select(Source.base_url)).one()
    with db.write() as session:  # another source, never harvested
        session.add(Source(name="never", base_url="http://127.0.0.1:9/oai", sets=[]))
    assert friends() == [url]
    with faulty_provider([Reply(302, headers={"Location": "file:///etc/passwd"})]) as moved:
        with db.write() as session:
            session.scalars(select(Source).where(Source.name == "p")).one().base_url = moved.url
        assert harvest(db, config, "p").status == "failed"
    assert friends() == []


@pytest.mark.parametrize(
    "answer",
    [
        Reply(body=zeros_gzip(1024)),  # a gzip bomb without Content-Encoding
        Reply(body=zeros_gzip(1024), headers={"Content-Encoding": "gzip"}),
        Reply(stream=lambda: iter(lambda: b"<x>" * 100_000, None)),  # 500 MB and more
    ],
    ids=["gzip-bomb", "gzip-bomb-advertised", "endless-body"],
)
def test_the_harvest_process_stays_small_whatever_the_provider_sends(  # type: ignore[no-untyped-def]
    aggregator, tmp_path: Path, answer: Reply
) -> None:
    """`libfed harvest` with the default limits, its peak memory measured by the kernel.

    The peak is the process's own VmHWM, read as it exits: the rusage a parent gets also
    counts, from the exec, the memory of the process that spawned it (this test's).
    """
    config, db = aggregator
    settings = write_config(tmp_path / "aggregator.toml", config, "max_retries = 0\n")
    with faulty_provider([Reply(body=IDENTIFY), answer]) as provider:
        with db.write() as session:
            session.add(Source(name="p", base_url=provider.url, prefix="oai_dc", sets=[]))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", _WITH_PEAK, "--config", str(settings), "harvest", "p"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stdout + done.stderr  # the source did not complete
    assert "p: failed" in done.stdout and "MiB" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert time.monotonic() - started < 30
    peak_mib = int(re.search(r"VmHWM:\s+(\d+) kB", done.stderr).group(1)) / 1024
    assert peak_mib < 300, f"the harvest peaked at {peak_mib:.0f} MiB"


# `libfed ARGS...`, telling its peak resident memory (VmHWM) on stderr as it exits.
_WITH_PEAK = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(open("/proc/self/status").read()))
sys.argv[0] = "libfed"
from libfed.root.cli import main
main()
"""


# ------------------------------------------------------------------ headers and envelopes


def test_headers_no_record_could_have_are_quarantined_alone(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    long_identifier = "oai:x:" + "n" * 2000
    bad_stamp = record("oai:x:stamp").replace("2026-11-20", "2026-11-20" + "9" * 500)
    twice = record("oai:x:twice", title="first") + record("oai:x:twice", title="second")
    body = page(SOUND, record(long_identifier), bad_stamp, twice, token="")
    outcome = run_against(aggregator, oai_schema, [Reply(body=body)])
    assert outcome.run.status == "succeeded", outcome.log
    assert outcome.identifiers == {"oai:x:sound", "oai:x:twice"}
    assert "second" in outcome.served["oai_dc"].decode()  # the later of the two wins
    reasons = " | ".join(outcome.quarantined)
    assert "an identifier longer than 1000 characters" in reasons and "not a UTCdatetime" in reasons


def test_an_envelope_no_provider_could_send_ends_the_run_with_a_reason(  # type: ignore[no-untyped-def]
    aggregator, oai_schema
) -> None:
    hostile_token = page(SOUND, token="t" * 100_000)
    outcome = run_against(aggregator, oai_schema, [Reply(body=hostile_token)])
    assert (
        outcome.run.status == "partial" and "resumptionToken is 100,000 characters" in outcome.log
    )
    assert outcome.identifiers == {"oai:x:sound"}
    assert all(len(value) <= 500 for error in outcome.run.errors for value in error.values())


def test_a_long_error_message_from_the_provider_is_cut(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    error = (
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-23T12:00:00Z'
        b'</responseDate><request>x</request><error code="badArgument">'
        + b"<script>x</script> " * 10_000
        + b"</error></OAI-PMH>"
    )
    outcome = run_against(aggregator, oai_schema, [Reply(body=error)])
    assert outcome.run.status == "failed" and len(outcome.log) < 400


def test_a_hostile_identify_does_not_break_the_run(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    identify = IDENTIFY.replace(b"YYYY-MM-DD", b"YYYY-MM-DD" + b"x" * 500)
    config, db = aggregator
    with faulty_provider([Reply(body=identify), Reply(body=page(SOUND, token=""))]) as provider:
        with db.write() as session:
            session.add(Source(name="p", base_url=provider.url, prefix="oai_dc", sets=[]))
        run = harvest(db, config, "p")
    assert run.status == "succeeded", run.errors


def test_a_schema_location_of_the_partners_choosing_is_not_served(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    """Harvesters downstream may fetch the schema a record names: only the official one."""
    elsewhere = (
        "<record><header><identifier>oai:x:loc</identifier><datestamp>2026-11-20</datestamp>"
        '</header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xsi="http://www.w3.org/2001/'
        'XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ '
        'http://evil.example/track.xsd" id="x"><dc:title>Yer</dc:title></oai_dc:dc></metadata>'
        "</record>"
    )
    outcome = run_against(aggregator, oai_schema, [Reply(body=page(SOUND, elsewhere, token=""))])
    served = outcome.served["oai_dc"].decode()
    assert "evil.example" not in served and 'id="x"' not in served
    assert "oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd" in served
    assert altered(outcome.served["oai_dc"], "oai:x:loc") == "true"
    assert altered(outcome.served["oai_dc"], "oai:x:sound") == "false"


def test_a_record_larger_than_any_catalogue_record_is_quarantined(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    huge = dc_record("oai:x:huge", "<dc:description>" + "ə" * 700_000 + "</dc:description>")
    outcome = run_against(aggregator, oai_schema, [Reply(body=page(SOUND, huge, token=""))])
    assert outcome.identifiers == {"oai:x:sound"}
    assert outcome.quarantined == ["oai:x:huge: larger than 1,024 KiB"]
