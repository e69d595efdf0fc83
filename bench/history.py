"""What recording a run's changes costs, and what the statistics cost:
`python -m bench.history` (a step of `make bench`).

1. A provider on loopback (werkzeug, in this process) serves N oai_dc records
   (BENCH_HISTORY_RECORDS, default 20,000) in ListRecords pages of 500, with a title,
   language, date and type each; in its second version every tenth title differs.
2. Into a fresh SQLite database: a first harvest (N records added), then a full
   harvest of the second version (N/10 changed, each with its title before and after),
   each timed; the same two harvests again into another fresh database with the changes'
   hook (harvest.changes.record_changes) made a no-op, for the cost it adds. Each is
   done twice, alternating, and the faster kept.
3. The statistics of the N records: counted from scratch (harvest.statistics.count_source,
   which reads every record's oai_dc for its type) and from the cache (source_counts
   with the source's records unchanged).

Figures go to bench/results/history.json; a markdown table is printed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from urllib.parse import parse_qs

from sqlalchemy import func, select

from libfed.harvest import changes, run
from libfed.harvest.models import Change, Source
from libfed.harvest.run import harvest
from libfed.harvest.statistics import count_source, source_counts
from libfed.kernel.config import load_config
from libfed.kernel.db import Database
from libfed.root.migrate import upgrade

from .run import DATA, RESULTS, config_file, serving

SIZE = int(os.environ.get("BENCH_HISTORY_RECORDS", "20000"))
PAGE = 500
OAI = "http://www.openarchives.org/OAI/2.0/"
DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
    "<dc:creator>Müəllif {author}</dc:creator><dc:language>{language}</dc:language>"
    "<dc:date>{year}</dc:date><dc:type>{kind}</dc:type></oai_dc:dc>"
)
LANGUAGES = ("aze", "rus", "uzb", "eng", "kaa")
KINDS = ("text", "text", "text", "image", "cartographic")


class Provider:
    """A WSGI provider of SIZE records whose `version` 2 changes every tenth title."""

    def __init__(self) -> None:
        self.version = 1

    def record(self, n: int) -> str:
        title = f"Kitab {n}" + (" (yeni nəşr)" if self.version == 2 and n % 10 == 0 else "")
        dc = DC.format(
            title=title,
            author=n % 997,
            language=LANGUAGES[n % len(LANGUAGES)],
            year=1900 + n % 120,
            kind=KINDS[n % len(KINDS)],
        )
        return (
            f"<record><header><identifier>oai:provider.example.org:{n:07d}</identifier>"
            f"<datestamp>2026-11-20</datestamp></header><metadata>{dc}</metadata></record>"
        )

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        verb = query.get("verb", "")
        if verb == "Identify":
            inner = (
                "<repositoryName>bench</repositoryName><baseURL>http://127.0.0.1/oai</baseURL>"
                "<protocolVersion>2.0</protocolVersion><adminEmail>b@example.org</adminEmail>"
                "<earliestDatestamp>2026-01-01</earliestDatestamp>"
                "<deletedRecord>persistent</deletedRecord><granularity>YYYY-MM-DD</granularity>"
            )
        else:
            start = int(query.get("resumptionToken", "0"))
            stop = min(start + PAGE, SIZE)
            token = f"<resumptionToken>{stop}</resumptionToken>" if stop < SIZE else ""
            inner = "".join(self.record(n) for n in range(start, stop)) + token
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI}">'
            f"<responseDate>2026-12-01T00:00:00Z</responseDate>"
            f'<request verb="{verb}">http://127.0.0.1/oai</request><{verb}>{inner}</{verb}>'
            "</OAI-PMH>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]


def two_harvests(name: str, recording: bool) -> tuple[dict, Database]:
    """The first and the changed harvest into a fresh database, timed."""
    database = DATA / f"history-{name}.sqlite3"
    for leftover in DATA.glob(f"history-{name}.sqlite3*"):
        leftover.unlink()
    config = load_config(str(config_file(database)))
    db = Database(f"sqlite:///{database}")
    upgrade(db)
    provider = Provider()
    figures: dict[str, object] = {"recording": recording}
    original = run.record_changes
    spent = [0.0]

    def timed(*args: object, **kwargs: object) -> None:
        started = time.perf_counter()
        original(*args, **kwargs)  # type: ignore[arg-type]
        spent[0] += time.perf_counter() - started

    # The hook timed where it runs (the with/without comparison moves with the load).
    run.record_changes = timed if recording else lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        with serving(provider) as url:
            with db.write() as session:
                session.add(Source(name="bench", base_url=url, sets=[]))
            for phase in (1, 2):
                provider.version = phase
                started = time.perf_counter()
                done = harvest(db, config, "bench", full=True)
                seconds = time.perf_counter() - started
                assert done.status == "succeeded", done.errors
                figures[f"harvest_{phase}_seconds"] = round(seconds, 2)
                figures[f"harvest_{phase}_in_changes_seconds"] = round(spent[0], 2)
                spent[0] = 0.0
                figures[f"harvest_{phase}_records_per_second"] = round(SIZE / seconds)
    finally:
        run.record_changes = original  # type: ignore[assignment]
    with db.session() as session:
        figures["change_rows"] = session.scalar(select(func.count()).select_from(Change))
    return figures, db


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
    DATA.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    print(f"harvesting {SIZE:,} records twice, with and without the changes ...", flush=True)
    # Alternated, twice each, the faster of the two kept: on a shared machine the load
    # moves during a run, and the first harvest of a process pays for its warm-up.
    tries: dict[bool, list[dict]] = {True: [], False: []}
    for recording in (False, True, False, True):
        figures, db = two_harvests("changes" if recording else "plain", recording)
        tries[recording].append(figures)
        db.dispose()
    with_changes, without = (
        min(tries[recording], key=lambda f: f["harvest_1_seconds"] + f["harvest_2_seconds"])
        for recording in (True, False)
    )
    db = Database(f"sqlite:///{DATA / 'history-changes.sqlite3'}")
    with db.session() as session:
        started = time.perf_counter()
        counted = count_source(session, "bench")
        cold = time.perf_counter() - started
        source_counts(session, "bench")  # fills the cache
        started = time.perf_counter()
        source_counts(session, "bench")
        cached = time.perf_counter() - started
    db.dispose()
    assert counted.records == SIZE
    result = {
        "records": SIZE,
        "changes_kept_per_kind": changes.MAX_PER_KIND,
        "with_changes": with_changes,
        "without_changes": without,
        "statistics_seconds": round(cold, 2),
        "statistics_cached_ms": round(cached * 1000, 2),
    }
    (RESULTS / "history.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print("\n| harvest | with changes | of which recording them | without |")
    print("|---|---|---|---|")
    for phase, label in ((1, "first (all added)"), (2, "again, a tenth changed")):
        key = f"harvest_{phase}_seconds"
        print(
            f"| {label} | {with_changes[key]} s "
            f"| {with_changes[f'harvest_{phase}_in_changes_seconds']} s | {without[key]} s |"
        )
    print(f"\n{with_changes['change_rows']:,} change rows kept")
    print(
        f"\nstatistics of {SIZE:,} records: {result['statistics_seconds']} s counted, "
        f"{result['statistics_cached_ms']} ms from the cache"
    )


if __name__ == "__main__":
    main()
