"""`libfed export` (libfed.records.export): every format of a real catalogue written whole
and valid (MARC21slim and MODS against their XSDs, oai_dc as an OAI-PMH response
against its, jsonl line by line), --set, --from and deletions as asked, gzip and
standard output, and an interrupted export leaving no file under the final name."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPOSITORY_ID, ROOT, Clock, load, parse_valid, write_config
from lxml import etree
from records_helpers import put
from sqlalchemy import func, select

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records import export as engine
from libfed.records.formats import FORMATS
from libfed.records.models import Record, RecordFormat
from libfed.records.repository import tombstone
from libfed.records.xml_schemas import schema_problem
from libfed.root.cli import main

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"
MARC = "{http://www.loc.gov/MARC21/slim}"
MODS = "{http://www.loc.gov/mods/v3}"
OAI = "{http://www.openarchives.org/OAI/2.0/}"


@pytest.fixture
def catalogue(db: Database, clock: Clock) -> Database:
    """The demo catalogue in set demo, the pymarc batch in set pymarc an hour later, and
    one record harvested as oai_dc only (no MARC) from source tashkent."""
    load(db, str(DEMO), sets={"demo": "Demo"})
    clock.advance(3600)
    load(db, "marcxml/pymarc_batch.xml", sets={"pymarc": "pymarc"})
    put(db, "t1", source="tashkent", title="Oʻzbek adabiyoti", creator="Navoiy")
    return db


@pytest.fixture
def run(config: Config, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = write_config(tmp_path / "config.toml", config)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--config", str(settings), "export", *args])

    return invoke


def _stored(db: Database, prefix: str) -> int:
    with db.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(RecordFormat)
            .join(Record, Record.id == RecordFormat.record_id)
            .where(RecordFormat.prefix == prefix, Record.deleted.is_(False))
        )


def test_marcxml_is_one_valid_collection_of_every_record_with_marc(
    catalogue: Database, run, tmp_path: Path
) -> None:
    out = tmp_path / "all.xml"
    result = run("--format", "marcxml", str(out))
    assert result.exit_code == 0, result.output
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{MARC}collection"
    assert schema_problem(FORMATS["marc21"], root) is None
    records = root.findall(f"{MARC}record")
    assert len(records) == _stored(catalogue, "marc21") > 20
    assert f"{len(records)} records written to {out}" in result.stderr


def test_mods_is_one_valid_collection(catalogue: Database, run, tmp_path: Path) -> None:
    out = tmp_path / "all.mods.xml.gz"
    assert run("--format", "mods", str(out)).exit_code == 0
    root = etree.fromstring(gzip.decompress(out.read_bytes()))
    assert root.tag == f"{MODS}modsCollection"
    assert schema_problem(FORMATS["mods"], root) is None
    assert len(root.findall(f"{MODS}mods")) == _stored(catalogue, "mods")


def test_oai_dc_is_a_list_records_response_with_harvested_records_too(
    catalogue: Database, run, tmp_path: Path, oai_schema: etree.XMLSchema
) -> None:
    out = tmp_path / "dc.xml"
    assert run("--format", "oai_dc", str(out)).exit_code == 0
    root = parse_valid(oai_schema, out.read_bytes())
    records = root.findall(f"{OAI}ListRecords/{OAI}record")
    assert len(records) == _stored(catalogue, "oai_dc")
    identifiers = [r.findtext(f"{OAI}header/{OAI}identifier") for r in records]
    assert f"oai:{REPOSITORY_ID}:tashkent:t1" in identifiers
    assert root.find(f"{OAI}request").get("metadataPrefix") == "oai_dc"


def test_jsonl_is_one_object_a_line(catalogue: Database, run, tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    assert run("--format", "jsonl", str(out)).exit_code == 0
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(lines) == _stored(catalogue, "oai_dc")
    harvested = next(line for line in lines if line["identifier"].endswith(":tashkent:t1"))
    assert harvested == {
        "identifier": f"oai:{REPOSITORY_ID}:tashkent:t1",
        "datestamp": "2024-05-01T11:00:00Z",
        "deleted": False,
        "sets": ["source", "source:tashkent"],
        "source": "tashkent",
        "dc": {"title": ["Oʻzbek adabiyoti"], "creator": ["Navoiy"]},
    }
    local = lines[0]
    assert local["source"] is None and local["sets"] == ["demo"] and local["dc"]["title"]


def test_set_and_from_restrict(catalogue: Database, run, tmp_path: Path) -> None:
    demo, since = tmp_path / "demo.jsonl", tmp_path / "since.jsonl"
    assert run("--format", "jsonl", "--set", "demo", str(demo)).exit_code == 0
    assert run("--format", "jsonl", "--from", "2024-05-01T10:30:00Z", str(since)).exit_code == 0
    in_demo = [json.loads(line) for line in demo.read_text("utf-8").splitlines()]
    assert in_demo and all(line["sets"] == ["demo"] for line in in_demo)
    later = [json.loads(line) for line in since.read_text("utf-8").splitlines()]
    assert later and all("demo" not in line["sets"] for line in later)
    assert len(in_demo) + len(later) == _stored(catalogue, "oai_dc")
    unknown = run("--format", "jsonl", "--set", "nowhere", str(tmp_path / "x.jsonl"))
    assert unknown.exit_code == 2 and "no set 'nowhere'" in unknown.output
    assert not (tmp_path / "x.jsonl").exists()


def test_deleted_records_only_when_asked_and_only_where_they_can_be_said(
    catalogue: Database, run, tmp_path: Path, oai_schema: etree.XMLSchema
) -> None:
    gone = f"oai:{REPOSITORY_ID}:tashkent:t1"
    with catalogue.write() as session:
        assert tombstone(session, gone)
    plain, full = tmp_path / "plain.jsonl", tmp_path / "full.jsonl"
    assert run("--format", "jsonl", str(plain)).exit_code == 0
    assert gone not in plain.read_text("utf-8")
    assert run("--format", "jsonl", "--include-deleted", str(full)).exit_code == 0
    lines = [json.loads(line) for line in full.read_text("utf-8").splitlines()]
    deleted = [line for line in lines if line["deleted"]]
    assert [line["identifier"] for line in deleted] == [gone]
    assert deleted[0]["dc"] == {} and deleted[0]["source"] == "tashkent"
    dc = tmp_path / "dc.xml"
    assert run("--format", "oai_dc", "--include-deleted", str(dc)).exit_code == 0
    headers = parse_valid(oai_schema, dc.read_bytes()).iter(f"{OAI}header")
    assert [h.findtext(f"{OAI}identifier") for h in headers if h.get("status")] == [gone]
    refused = run("--format", "marcxml", "--include-deleted", str(tmp_path / "m.xml"))
    assert refused.exit_code == 2 and "cannot say a record was deleted" in refused.output
    assert not (tmp_path / "m.xml").exists()


def test_standard_output_and_gzip_hold_the_same_records(
    catalogue: Database, run, tmp_path: Path
) -> None:
    piped = run("--format", "jsonl", "-")
    assert piped.exit_code == 0
    packed = tmp_path / "r.jsonl.gz"
    assert run("--format", "jsonl", str(packed)).exit_code == 0
    assert gzip.decompress(packed.read_bytes()) == piped.stdout_bytes


def test_an_interrupted_export_leaves_no_file_under_its_name(
    catalogue: Database, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after its first batch (Ctrl-C), the export leaves the older file whole
    and no partial file beside it; a fresh name is not made at all."""
    old = tmp_path / "all.xml"
    old.write_bytes(b"<collection/>")
    monkeypatch.setattr(engine, "BATCH_SIZE", 5)
    real = engine._Collection.item
    written = []

    def item(self, row):  # type: ignore[no-untyped-def]
        if len(written) == 7:
            raise KeyboardInterrupt
        written.append(row.identifier)
        return real(self, row)

    monkeypatch.setattr(engine._Collection, "item", item)
    interrupted = run("--format", "marcxml", str(old))
    assert interrupted.exit_code != 0 and len(written) == 7
    assert old.read_bytes() == b"<collection/>"
    written.clear()
    assert run("--format", "marcxml", str(tmp_path / "new.xml")).exit_code != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.xml", "config.toml"]


def test_a_file_that_cannot_be_written_is_one_line(
    catalogue: Database, run, tmp_path: Path
) -> None:
    result = run("--format", "jsonl", str(tmp_path / "nowhere" / "records.jsonl"))
    assert result.exit_code == 1
    assert result.output.strip().endswith(
        f"Error: cannot write {tmp_path / 'nowhere' / 'records.jsonl'}: No such file or directory"
    )
