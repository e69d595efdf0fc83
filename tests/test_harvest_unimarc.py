"""Harvesting a partner that serves UNIMARC or RUSMARC: RUSMARC's UNISlim (prefix
`rusmarc`), UNIMARC slim (`unimarc`) and MARCXML holding UNIMARC (`marcxml`, as Koha's
UNIMARC catalogues serve it) are converted at intake as `libfed import` converts them,
served again in every format with provenance, and the original kept as `unimarc`; a
record that cannot be converted is quarantined alone."""

# ruff: noqa: RUF001

from __future__ import annotations

from conftest import AGGREGATOR, FIXTURES, parse_valid
from faulty_provider import Reply, faulty_provider
from lxml import etree
from sqlalchemy import select
from test_harvest_listing import page
from test_harvest_run import add_source, harvested

from libfed.harvest.models import QuarantinedRecord
from libfed.harvest.run import harvest
from libfed.records.formats import FORMATS, MARC21, OAI_DC, UNIMARC
from libfed.records.formats.mods import FORMAT as MODS
from libfed.records.marc_reader import decode, read_raw
from libfed.records.marcxml import record_to_marcxml
from libfed.records.xml_schemas import schema_problem
from libfed.root.app import create_app
from tests.test_unimarc import NS, marc_of, stored_metadata_of

IDENTIFY = (FIXTURES / "oai-pmh" / "sickle_Identify.xml").read_bytes()
_PROVENANCE = "{http://www.openarchives.org/OAI/2.0/provenance}originDescription"


def unislim() -> str:
    """The real RUSMARC record, as a UNISlim <record> element."""
    root = etree.parse(str(FIXTURES / "unimarc" / "rusmarc_unislim.xml")).getroot()
    return etree.tostring(root[0], encoding="unicode")


def periouni_records(count: int) -> list:
    """pymarc records (UNIMARC tags) of the sample's first `count` records."""
    raws = list(read_raw(FIXTURES / "unimarc" / "periouni_60.mrc"))[:count]
    return [decode(raw, "utf-8")[0] for raw in raws]


def oai_record(identifier: str, metadata: str) -> str:
    return (
        f"<record><header><identifier>{identifier}</identifier>"
        f"<datestamp>2026-11-20</datestamp></header><metadata>{metadata}</metadata></record>"
    )


def run(aggregator, prefix: str, body: bytes):  # type: ignore[no-untyped-def]
    config, db = aggregator
    with faulty_provider([Reply(body=IDENTIFY), Reply(body=body)]) as provider:
        add_source(db, provider.url, prefix=prefix)
        return harvest(db, config, "az-nl")


def ours(identifier: str) -> str:
    return f"oai:{AGGREGATOR}:az-nl:{identifier}"


def test_rusmarc_unislim_is_converted_served_again_and_kept(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    config, db = aggregator
    result = run(aggregator, "rusmarc", page(oai_record("oai:kiev:67183", unislim()), token=""))
    assert result.status == "succeeded", result.errors
    assert harvested(db) == {ours("oai:kiev:67183"): False}
    marc = marc_of(db, ours("oai:kiev:67183"))
    assert marc["245"]["a"] == "Сучасна соціальна філософія"
    assert marc["100"]["a"] == "Андрущенко, В.П."
    # A partner's holdings stay theirs (libfed.records.holdings is for local records).
    assert {f.get("a") for f in marc.get_fields("852")} == {None, "STL"}
    stored = stored_metadata_of(db, ours("oai:kiev:67183"))
    assert set(stored) >= {MARC21.prefix, OAI_DC.prefix, MODS.prefix, UNIMARC.prefix}
    for prefix, xml in stored.items():
        assert schema_problem(FORMATS[prefix], etree.fromstring(xml.encode())) is None, prefix

    served = create_app(config, db).test_client()
    for prefix in ("unimarc", "marc21", "oai_dc", "mods"):
        answer = served.get(f"/oai?verb=ListRecords&metadataPrefix={prefix}")
        document = parse_valid(oai_schema, answer.data)
        origin = document.find(f".//oai:about/{{*}}provenance/{_PROVENANCE}", NS)
        assert origin.findtext("{*}metadataNamespace") == "http://www.rba.ru/rusmarc/soft"
        # Written again in UNIMARC slim, the original is no longer byte for byte as sent.
        assert origin.get("altered") == "true"
    kept = served.get("/oai?verb=ListRecords&metadataPrefix=unimarc")
    assert "Сучасна соціальна філософія".encode() in kept.data


def test_unimarc_slim_as_sent_is_kept_unaltered(aggregator, oai_schema) -> None:  # type: ignore[no-untyped-def]
    from libfed.records.formats.unimarc import unimarc_slim

    config, db = aggregator
    records = periouni_records(3)
    body = page(
        *(
            oai_record(f"oai:sp:{n}", unimarc_slim(r, "00000nas  2200000 i 450 "))
            for n, r in enumerate(records)
        ),
        token="",
    )
    result = run(aggregator, "unimarc", body)
    assert (result.status, result.added) == ("succeeded", 3), result.errors
    assert marc_of(db, ours("oai:sp:1"))["245"]["a"] == "20 century British history"
    served = create_app(config, db).test_client()
    document = parse_valid(
        oai_schema,
        served.get(
            f"/oai?verb=GetRecord&metadataPrefix=unimarc&identifier={ours('oai:sp:1')}"
        ).data,
    )
    assert document.find(f".//{_PROVENANCE}", NS).get("altered") == "false"
    document = parse_valid(
        oai_schema,
        served.get(f"/oai?verb=GetRecord&metadataPrefix=marc21&identifier={ours('oai:sp:1')}").data,
    )
    assert document.find(f".//{_PROVENANCE}", NS).get("altered") == "true"


def test_marcxml_holding_unimarc_is_told_apart_from_marc21(aggregator) -> None:  # type: ignore[no-untyped-def]
    _config, db = aggregator
    unimarc = periouni_records(2)[1]
    marc21 = etree.parse(str(FIXTURES / "marcxml" / "pymarc_batch.xml")).getroot()[0]
    body = page(
        oai_record("oai:koha:1", record_to_marcxml(unimarc)),
        oai_record("oai:koha:2", etree.tostring(marc21, encoding="unicode")),
        token="",
    )
    result = run(aggregator, "marcxml", body)
    assert (result.status, result.added) == ("succeeded", 2), result.errors
    assert marc_of(db, ours("oai:koha:1"))["245"]["a"] == "20 century British history"
    assert UNIMARC.prefix in stored_metadata_of(db, ours("oai:koha:1"))
    assert UNIMARC.prefix not in stored_metadata_of(db, ours("oai:koha:2"))


def test_a_record_that_cannot_be_kept_is_quarantined_alone(aggregator) -> None:  # type: ignore[no-untyped-def]
    _config, db = aggregator
    sound = unislim()
    # A subfield code UNIMARC does not allow (upper case): its original cannot be kept valid.
    broken = sound.replace('code="f"', 'code="F"', 1)
    body = page(oai_record("oai:kiev:1", sound), oai_record("oai:kiev:2", broken), token="")
    result = run(aggregator, "rusmarc", body)
    assert (result.status, result.added, result.quarantined) == ("succeeded", 1, 1)
    with db.session() as session:
        (reason,) = session.scalars(select(QuarantinedRecord.reason)).all()
    assert reason.startswith("oai:kiev:2: UNIMARC refused:")
