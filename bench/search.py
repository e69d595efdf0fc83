"""The union catalogue search at scale: `python -m bench.search` (a step of `make bench`).

1. Data. BENCH_SEARCH_RECORDS (1,000,000) records, the same on SQLite and PostgreSQL,
   made from the 100 real templates of bench.generate (Azerbaijani, Russian, Uzbek,
   Karakalpak, LC records) as oai_dc: each *work* takes a template (regional languages
   weighted up), replaces one or two title words by words of other templates of its
   language, appends one distinct pseudo-word (syllables in the title's own script: the
   only made-up text, so that copies differ and rare words exist), gets a year
   (1920-2025) and, for 35 % of works, a generated valid ISBN. 70 % of works have one
   holding, 20 % two, 10 % three, each from another source (this library or one of
   seven partners, as `source:NAME` set members); a second holding of a Cyrillic
   Uzbek, Azerbaijani or Russian work is written in Latin half the time (ICU's
   uz_Cyrl-uz_Latn, az_Cyrl-az/BGN, Russian-Latin/BGN), so editions group records
   across scripts. Every search entry is what libfed.records.search_documents makes of the
   record's oai_dc (document_from_oai_dc in a process pool, checked again on a sample
   at the end); records, formats and memberships are bulk-inserted beside them.
2. Index build, per engine: the entries are loaded into a staging table, then
   `INSERT INTO search_entries SELECT ...` is timed (the engine's part: rows, FTS5 by
   its triggers, or the generated tsvector and its GIN index), then VACUUM ANALYZE on
   PostgreSQL (ANALYZE on SQLite). The document making (the Python part of
   libfed.records.search_index.rebuild) is timed in the pool, per process. With
   BENCH_SEARCH_REBUILD=1, rebuild(db) itself is also timed on both engines at the end
   (about 1 ms a record on one core: twenty minutes per engine at a million) and
   checked to give the same entries.
3. Index size: SQLite's dbstat over search_entries, its indexes and the search_fts
   shadow tables; PostgreSQL's pg_total_relation_size('search_entries') (heap, TOAST,
   the GIN and B-tree indexes).
4. Queries, words picked from the generated data so the mix means the same at any size
   (a common title word, two words, a word with about 100 hits, a word with one hit, a
   Cyrillic word that Latin holdings match, its Latin spelling, an ISBN, a prefix, a
   filtered query, page 5, an Azerbaijani word typed without ş ç ə ı ğ ö ü, one typed
   on a Russian keyboard without the Uzbek, Karakalpak or Azerbaijani letters): each run BENCH_SEARCH_RUNS times in-process through
   libfed.search.query.search and BENCH_SEARCH_HTTP_RUNS times as GET /api/v1/search
   against `libfed serve`, SQLite and PostgreSQL alternately for each run, after two
   warm-up runs each; p50 and p99.

Figures go to bench/data/search.json; a markdown table is printed. Knobs:
BENCH_SEARCH_RECORDS, BENCH_SEARCH_RUNS (100), BENCH_SEARCH_HTTP_RUNS (30),
BENCH_SEARCH_REBUILD (0), BENCH_SEARCH_WORKERS (2), BENCH_POSTGRES (server URL,
default postgresql://postgres@127.0.0.1:5432; database libfed_bench_search is dropped
and recreated through its `test` database; BENCH_SEARCH_KEEP_PG=1 keeps it afterwards).
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import math
import os
import random
import re
import sqlite3
import subprocess
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

import icu
import requests
from pymarc import parse_xml_to_array
from sqlalchemy import text
from stdnum import ean
from stdnum import isbn as stdnum_isbn

from libfed.kernel.db import Database
from libfed.records import search_index
from libfed.records.crosswalk import dc_elements
from libfed.records.search_documents import document_from_oai_dc
from libfed.records.search_index import entry_row
from libfed.records.search_keys import query_keys, record_key
from libfed.records.stored_xml import metadata_of, record_body, render_header
from libfed.records.xmltext import escape_text
from libfed.root.migrate import upgrade
from libfed.search.query import SearchQuery, search

from .explain import _recreate
from .generate import templates
from .run import DATA, config_file, libfed_server

RECORDS = int(os.environ.get("BENCH_SEARCH_RECORDS", "1000000"))
RUNS = int(os.environ.get("BENCH_SEARCH_RUNS", "100"))
HTTP_RUNS = int(os.environ.get("BENCH_SEARCH_HTTP_RUNS", "30"))
REBUILD = os.environ.get("BENCH_SEARCH_REBUILD", "0") == "1"
WORKERS = int(os.environ.get("BENCH_SEARCH_WORKERS", "2"))
SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
PG_URL = f"{SERVER}/libfed_bench_search"
SQLITE = DATA / "search.sqlite3"
OUT = DATA / "search.json"
SEED = 20261206
CHUNK_WORKS = 2000
WARMUP = 2

# Sources: None is this library; the partners' shares of the holdings.
SOURCES = (None, "azlibnet", "uznl", "nlr", "karakalpak", "samdu", "bsu", "loc")
SOURCE_WEIGHTS = (20, 14, 16, 12, 6, 10, 10, 12)
# Templates per language are few for some (kaa: 1); works per template, by language.
LANGUAGE_WEIGHT = {"uzb": 8, "aze": 8, "rus": 4, "kaa": 40}
HOLDINGS = ((1, 70), (2, 20), (3, 10))
ISBN_SHARE = 0.35
LATIN_SECOND = 0.5
TRANSLITERATE = {"uzb": "uz_Cyrl-uz_Latn", "aze": "az_Cyrl-az/BGN", "rus": "Russian-Latin/BGN"}
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_SYLLABLES = {
    "latin": [c + v for c in "bdgklmnprstvz" for v in "aiou"],
    "cyrillic": [c + v for c in "бдгклмнпрствз" for v in "аиоу"],
}
_DC_OPEN = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ '
    'http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
)
_ENTRY_COLUMNS = (
    "record_id",
    "source",
    "title",
    "author",
    "year",
    "language",
    "isbn",
    "edition_key",
    "title_key",
    "author_key",
    "subject_key",
    "other_key",
)
_KEPT = (
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "type",
    "format",
    "language",
)


# ------------------------------------------------------------------ the data


def _template_fields() -> list[list[tuple[str, str]]]:
    """Each template's DC (element, value) pairs, as the crosswalk gives them."""
    found = []
    for marc in templates():
        record = parse_xml_to_array(
            io.StringIO(f'<collection xmlns="http://www.loc.gov/MARC21/slim">{marc}</collection>')
        )[0]
        found.append([(e, v) for e, v in dc_elements(record) if e in _KEPT])
    return found


def _language(fields: list[tuple[str, str]]) -> str | None:
    return next((v for e, v in fields if e == "language"), None)


_POOL: list[list[tuple[str, str]]] = []
_VOCABULARY: dict[tuple[str | None, bool], list[str]] = {}  # (language, Cyrillic): words
_CUMULATIVE: list[float] = []
_TRANSLITERATORS: dict[str, icu.Transliterator] = {}


def _setup() -> None:
    """Templates, each language's title words, and the template weights (per process)."""
    if _POOL:
        return
    _POOL.extend(_template_fields())
    for fields in _POOL:
        for word in (w for e, v in fields if e == "title" for w in v.split() if w.isalpha()):
            key = (_language(fields), bool(_CYRILLIC.search(word)))
            _VOCABULARY.setdefault(key, []).append(word)
    total = 0.0
    for fields in _POOL:
        total += LANGUAGE_WEIGHT.get(_language(fields) or "", 1)
        _CUMULATIVE.append(total)


def _pseudo_word(number: int, script: str) -> str:
    """A distinct word for each number below 52**4 (7.3 million): four syllables, the
    number first scrambled (times a prime, modulo 52**4) so that neighbours differ."""
    syllables = _SYLLABLES[script]
    number = number * 1_000_003 % len(syllables) ** 4
    parts = []
    for _ in range(4):
        number, digit = divmod(number, len(syllables))
        parts.append(syllables[digit])
    return "".join(parts)


def _isbn(work: int) -> str:
    digits = f"978{work % 10**9:09d}"
    return digits + ean.calc_check_digit(digits)


def _work(work: int) -> tuple[str | None, list[tuple[str, str]]]:
    """A work's language and DC fields: a template varied (see the module's docstring)."""
    rng = random.Random(SEED * 7919 + work)
    index = min(len(_POOL) - 1, bisect.bisect_left(_CUMULATIVE, rng.random() * _CUMULATIVE[-1]))
    fields = _POOL[index]
    language = _language(fields)
    out: list[tuple[str, str]] = []
    titled = False
    for element, value in fields:
        if element == "title" and not titled:
            titled = True
            words = value.split()
            cyrillic = bool(_CYRILLIC.search(value))
            vocabulary = _VOCABULARY.get((language, cyrillic)) or _VOCABULARY[(language, False)]
            for _ in range(rng.choice((1, 2))):
                spots = [i for i, w in enumerate(words) if w.isalpha()]
                if spots:
                    words[rng.choice(spots)] = rng.choice(vocabulary)
            script = "cyrillic" if cyrillic else "latin"
            words.append(_pseudo_word(work, script))
            value = " ".join(words)
        out.append((element, value))
    out.append(("date", str(rng.randint(1920, 2025))))
    if rng.random() < ISBN_SHARE:
        out.append(("identifier", f"URN:ISBN:{_isbn(work)}"))
    return language, out


def _latin(language: str | None, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    trans = _TRANSLITERATORS.get(language or "")
    if trans is None:
        trans = _TRANSLITERATORS[language or ""] = icu.Transliterator.createInstance(
            TRANSLITERATE[language or ""]
        )
    return [(e, trans.transliterate(v) if e != "language" else v) for e, v in fields]


def _oai_dc(fields: list[tuple[str, str]]) -> str:
    return (
        _DC_OPEN + "".join(f"<dc:{e}>{escape_text(v)}</dc:{e}>" for e, v in fields) + "</oai_dc:dc>"
    )


def _identifier(record_id: int, source: str | None) -> str:
    return f"oai:{source or 'bench'}.libfed.org:{record_id}"


def make_chunk(first_work: int, holdings: list[int], first_id: int) -> tuple[list[tuple], float]:
    """Records of works first_work...: (record row, format row, set spec, entry row,
    whether written in Latin from Cyrillic, the pseudo-word of a work held once), and
    the seconds spent making documents."""
    _setup()
    rows, spent = [], 0.0
    record_id = first_id
    for offset, count in enumerate(holdings):
        work = first_work + offset
        rng = random.Random(SEED * 104729 + work)
        language, fields = _work(work)
        cyrillic = any(_CYRILLIC.search(v) for e, v in fields if e == "title")
        first_title = next(v for e, v in fields if e == "title")
        script = "cyrillic" if _CYRILLIC.search(first_title) else "latin"
        single = _pseudo_word(work, script) if count == 1 else None
        sources = []
        while len(sources) < count:
            source = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
            if source not in sources:
                sources.append(source)
        for n, source in enumerate(sources):
            latin = n > 0 and cyrillic and language in TRANSLITERATE and rng.random() < LATIN_SECOND
            metadata = _oai_dc(_latin(language, fields) if latin else fields).encode()
            identifier = _identifier(record_id, source)
            sets = (f"source:{source}",) if source else ()
            datestamp = datetime(2020, 1, 1) + timedelta(seconds=record_id * 97)
            started = time.perf_counter()
            document = document_from_oai_dc(metadata)
            spent += time.perf_counter() - started
            assert document is not None
            entry = entry_row(record_id, document, sets)
            rows.append(
                (
                    (
                        record_id,
                        identifier,
                        datestamp,
                        False,
                        hashlib.sha256(metadata).hexdigest(),
                        render_header(identifier, datestamp, False, sets),
                    ),
                    (record_id, "oai_dc", record_body(metadata)),
                    sets[0] if sets else None,
                    tuple(entry[c] for c in _ENTRY_COLUMNS),
                    latin,
                    single,
                )
            )
            record_id += 1
    return rows, spent


def _plan() -> list[tuple[int, list[int], int]]:
    """Chunks of works (first work, holdings per work, first record id) up to RECORDS."""
    rng = random.Random(SEED)
    counts, total = [], 0
    while total < RECORDS:
        count = min(
            rng.choices([c for c, _ in HOLDINGS], [w for _, w in HOLDINGS])[0], RECORDS - total
        )
        counts.append(count)
        total += count
    chunks, record_id = [], 1
    for first in range(0, len(counts), CHUNK_WORKS):
        part = counts[first : first + CHUNK_WORKS]
        chunks.append((first, part, record_id))
        record_id += sum(part)
    return chunks


class Stats:
    """What the query mix is picked from: document frequencies of title tokens."""

    def __init__(self) -> None:
        _setup()
        # Pairs only of the templates' words (not of pseudo-words): a bounded Counter.
        self.vocabulary = {
            token
            for (language, _), words in _VOCABULARY.items()
            for word in words
            for token in record_key(word, language).split()
        }
        self.title_df: Counter[str] = Counter()
        self.pair_df: Counter[tuple[str, str]] = Counter()
        self.language: Counter[str | None] = Counter()
        self.source: Counter[str | None] = Counter()
        self.isbn_holdings: Counter[str] = Counter()
        self.latin_seconds = 0
        self.rare: str | None = None

    def add(self, entry: tuple, latin: bool, single: str | None) -> None:
        row = dict(zip(_ENTRY_COLUMNS, entry, strict=True))
        tokens = [t for t in dict.fromkeys(row["title_key"].split()) if t.isalpha() and len(t) >= 4]
        self.title_df.update(tokens)
        common = sorted(t for t in tokens if t in self.vocabulary)[:8]
        self.pair_df.update((a, b) for i, a in enumerate(common) for b in common[i + 1 :])
        self.language[row["language"]] += 1
        self.source[row["source"]] += 1
        if row["isbn"]:
            self.isbn_holdings[row["isbn"]] += 1
        self.latin_seconds += latin
        if single and (self.rare is None or row["record_id"] <= RECORDS // 2):
            self.rare = single  # the last one held once in the first half


class Loader:
    """Both engines, fed chunk by chunk: SQLite through sqlite3, PostgreSQL by COPY."""

    def __init__(self) -> None:
        for leftover in DATA.glob(f"{SQLITE.name}*"):
            leftover.unlink()
        _recreate(PG_URL)
        self.sqlite_url = f"sqlite:///{SQLITE}"
        for url in (self.sqlite_url, PG_URL):
            db = Database(url)
            upgrade(db)
            with db.engine.begin() as connection:
                specs = ["source"] + [f"source:{s}" for s in SOURCES if s]
                for spec in specs:
                    connection.execute(
                        text("INSERT INTO sets (spec, name) VALUES (:spec, :name)"),
                        {"spec": spec, "name": spec},
                    )
                columns = ", ".join(_ENTRY_COLUMNS)
                connection.execute(
                    text(
                        f"CREATE TABLE bench_entries AS SELECT {columns} FROM search_entries "
                        "WHERE 1 = 0"
                    )
                )
            db.dispose()
        self.lite = sqlite3.connect(SQLITE, isolation_level=None)
        self.lite.execute("PRAGMA synchronous = OFF")
        self.lite.execute("BEGIN")
        self.pg_db = Database(PG_URL)
        self.pg = self.pg_db.engine.raw_connection()

    def write(self, rows: list[tuple]) -> None:
        lite, places = self.lite, ", ".join("?" * len(_ENTRY_COLUMNS))
        lite.executemany(
            "INSERT INTO records (id, identifier, datestamp, deleted, "
            "content_hash, header_xml) VALUES (?, ?, ?, ?, ?, ?)",
            [(r[0][0], r[0][1], r[0][2].isoformat(sep=" "), *r[0][3:]) for r in rows],
        )
        lite.executemany("INSERT INTO record_formats VALUES (?, ?, ?)", [r[1] for r in rows])
        lite.executemany(
            "INSERT INTO record_sets (set_spec, record_id, datestamp, identifier) "
            "VALUES (?, ?, ?, ?)",
            [(r[2], r[0][0], r[0][2].isoformat(sep=" "), r[0][1]) for r in rows if r[2]],
        )
        lite.executemany(f"INSERT INTO bench_entries VALUES ({places})", [r[3] for r in rows])
        cursor = self.pg.cursor()
        with cursor.copy(
            "COPY records (id, identifier, datestamp, deleted, content_hash, header_xml) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(r[0])
        with cursor.copy("COPY record_formats (record_id, prefix, body_xml) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r[1])
        with cursor.copy(
            "COPY record_sets (set_spec, record_id, datestamp, identifier) FROM STDIN"
        ) as copy:
            for r in rows:
                if r[2]:
                    copy.write_row((r[2], r[0][0], r[0][2], r[0][1]))
        with cursor.copy(f"COPY bench_entries ({', '.join(_ENTRY_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r[3])
        self.pg.commit()

    def close(self) -> None:
        self.lite.execute("COMMIT")
        self.lite.close()
        cursor = self.pg.cursor()
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('records', 'id'), max(id)) FROM records"
        )
        self.pg.commit()
        self.pg.close()
        self.pg_db.dispose()


def build() -> tuple[Stats, dict]:
    stats, loader = Stats(), Loader()
    started, document_seconds, done = time.perf_counter(), 0.0, 0
    with ProcessPoolExecutor(WORKERS) as pool:
        chunks = _plan()
        pending = [pool.submit(make_chunk, *chunk) for chunk in chunks[: WORKERS * 2]]
        following = WORKERS * 2
        while pending:
            rows, spent = pending.pop(0).result()
            if following < len(chunks):
                pending.append(pool.submit(make_chunk, *chunks[following]))
                following += 1
            document_seconds += spent
            loader.write(rows)
            for row in rows:
                stats.add(row[3], row[4], row[5])
            done += len(rows)
            if done % 100_000 < len(rows):
                print(f"  records: {done:,}", flush=True)
    loader.close()
    return stats, {
        "records": done,
        "build_seconds": round(time.perf_counter() - started, 1),
        "documents_per_second_per_process": round(done / document_seconds),
        "holdings_written_in_latin": stats.latin_seconds,
    }


# ------------------------------------------------------------------ index build and size


def fill_sqlite() -> dict:
    columns = ", ".join(_ENTRY_COLUMNS)
    with sqlite3.connect(SQLITE, isolation_level=None) as lite:
        started = time.perf_counter()
        lite.execute("BEGIN")
        lite.execute(
            f"INSERT INTO search_entries ({columns}) SELECT {columns} "
            "FROM bench_entries ORDER BY record_id"
        )
        lite.execute("COMMIT")
        fill = time.perf_counter() - started
        lite.execute("DROP TABLE bench_entries")
        started = time.perf_counter()
        lite.execute("ANALYZE")
        analyze = time.perf_counter() - started
        lite.execute("VACUUM")
        sizes = dict(
            lite.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'search%' "
                "OR name LIKE 'ix_search_entries%' OR name LIKE 'sqlite_autoindex_search%' "
                "GROUP BY name"
            ).fetchall()
        )
        database = SQLITE.stat().st_size
    fts = sum(v for k, v in sizes.items() if k.startswith("search_fts"))
    table = sizes.get("search_entries", 0)
    indexes = sum(v for k, v in sizes.items() if k.startswith(("ix_", "sqlite_autoindex")))
    return {
        "fill_seconds": round(fill, 1),
        "analyze_seconds": round(analyze, 1),
        "index_mb": round((fts + table + indexes) / 2**20, 1),
        "entries_mb": round(table / 2**20, 1),
        "btree_indexes_mb": round(indexes / 2**20, 1),
        "fulltext_mb": round(fts / 2**20, 1),
        "database_mb": round(database / 2**20, 1),
    }


def fill_postgres() -> dict:
    columns = ", ".join(_ENTRY_COLUMNS)
    db = Database(PG_URL)
    with db.engine.begin() as connection:
        started = time.perf_counter()
        connection.execute(
            text(
                f"INSERT INTO search_entries ({columns}) SELECT {columns} "
                "FROM bench_entries ORDER BY record_id"
            )
        )
    fill = time.perf_counter() - started
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("DROP TABLE bench_entries")
        started = time.perf_counter()
        connection.exec_driver_sql("VACUUM ANALYZE")
        vacuum = time.perf_counter() - started
        size = {
            name: connection.scalar(text(sql))
            for name, sql in {
                "total": "SELECT pg_total_relation_size('search_entries')",
                "table": "SELECT pg_table_size('search_entries')",
                "gin": "SELECT pg_relation_size('ix_search_entries_document')",
                "database": "SELECT pg_database_size(current_database())",
            }.items()
        }
    db.dispose()
    return {
        "fill_seconds": round(fill, 1),
        "vacuum_analyze_seconds": round(vacuum, 1),
        "index_mb": round(size["total"] / 2**20, 1),
        "entries_mb": round(size["table"] / 2**20, 1),
        "btree_indexes_mb": round((size["total"] - size["table"] - size["gin"]) / 2**20, 1),
        "fulltext_mb": round(size["gin"] / 2**20, 1),
        "database_mb": round(size["database"] / 2**20, 1),
    }


# ------------------------------------------------------------------ the query mix


def _closest(df: Counter, wanted: int) -> str:
    return min(sorted(df), key=lambda t: (abs(df[t] - wanted), t))


def query_mix(stats: Stats) -> dict[str, SearchQuery]:
    """Typical queries, their words taken from the generated data."""
    _setup()
    df = stats.title_df
    common = max(sorted(df), key=lambda t: df[t])
    (pair, _n) = max(sorted(stats.pair_df.items()), key=lambda kv: (kv[1] < df[common], kv[1]))
    hundred = _closest(df, 100)
    rare = stats.rare or next(t for t in sorted(df) if df[t] == 1)
    # Cyrillic: the Uzbek (else Azerbaijani, Russian) template title word of 5+ letters
    # whose key is most frequent (other than the words above); its ICU Latin spelling
    # for the other way round.
    preference = ("rus", "aze", "uzb")
    candidates = sorted(
        (preference.index(language), df[record_key(word, language)], word, language)
        for fields in _POOL
        if (language := _language(fields)) in preference
        for element, value in fields
        if element == "title"
        for word in value.split()
        if word.isalpha()
        and len(word) >= 5
        and _CYRILLIC.search(word)
        and record_key(word, language) not in (common, *pair)
    )
    _rank, _count, cyrillic_word, cyrillic_language = candidates[-1]
    latin_word = icu.Transliterator.createInstance(TRANSLITERATE[cyrillic_language]).transliterate(
        cyrillic_word
    )
    isbn = max(sorted(stats.isbn_holdings), key=lambda i: stats.isbn_holdings[i])
    stem = max(sorted(t for t in df if len(t) >= 9 and t != common), key=lambda t: df[t])
    source = max((s for s in stats.source if s), key=lambda s: stats.source[s])
    language = max((x for x in stats.language if x), key=lambda x: stats.language[x])
    typed_latin, typed_cyrillic = _typed_without_the_letters(df)
    # A filtered query must match something: the commonest word of that language's titles.
    return {
        "common word": SearchQuery(common),
        "two words": SearchQuery(" ".join(pair)),
        "word with ~100 hits": SearchQuery(hundred),
        "rare word (1 record)": SearchQuery(rare),
        "Cyrillic word, Latin holdings too": SearchQuery(cyrillic_word),
        "Latin word, Cyrillic holdings too": SearchQuery(latin_word),
        "ISBN (hyphenated)": SearchQuery(stdnum_isbn.format(isbn)),
        "prefix (stem of a longer word)": SearchQuery(stem[: len(stem) - 3]),
        "filtered: source + language + years": SearchQuery(
            _commonest_in(language), source=source, language=language, year_from=1950, year_to=2000
        ),
        "common word, page 5": SearchQuery(common, page=5),
        "typed without ş ç ə ı (folded)": SearchQuery(typed_latin),
        "typed on a Russian keyboard (folded)": SearchQuery(typed_cyrillic),
    }


# How a Russian keyboard types the region's Cyrillic: what a reader writes, not the rule
# the index applies (search_keys._CYRILLIC_STAND_INS), which the query must meet.
_RUSSIAN_KEYBOARD = str.maketrans("һҳҹҝқғўүөәјңҺҲҸҜҚҒЎҮӨӘЈҢ", "ххчккгууоейнХХЧККГУУОЕЙН")


def _typed_without_the_letters(df: Counter) -> tuple[str, str]:
    """The commonest Azerbaijani title word (5+ letters) that needs a letter an English
    keyboard lacks, typed as its folded key (Kitabxanaçılıq as kitabxanaciliq), and the
    commonest Uzbek, Karakalpak or Azerbaijani Cyrillic one that needs a letter a Russian
    keyboard lacks, typed with the letters people use for it (Ширваншахлар)."""
    words = {
        (word, language)
        for fields in _POOL
        if (language := _language(fields)) in ("aze", "uzb", "kaa")
        for element, value in fields
        if element == "title"
        for word in value.split()
        if word.isalpha() and len(word) >= 5
    }
    latin = sorted(
        (df[exact], typed)
        for word, language in words
        if language == "aze"
        and (exact := record_key(word, language))
        != (typed := record_key(word, language, folded=True))
    )
    cyrillic = sorted(
        (df[record_key(word, language)], typed.lower())
        for word, language in words
        if _CYRILLIC.search(word)
        # Only words that the typed form misses by its exact keys (Karakalpak ғ is g
        # in both: шыгармалары finds шығармалары exactly).
        and record_key(word, language) not in query_keys(typed := word.translate(_RUSSIAN_KEYBOARD))
    )
    return latin[-1][1], cyrillic[-1][1]


def _commonest_in(language: str) -> str:
    words = Counter(
        w
        for (lang, _), found in _VOCABULARY.items()
        if lang == language
        for w in found
        if len(w) >= 4
    )
    return record_key(words.most_common(1)[0][0], language) if words else "a"


# ------------------------------------------------------------------ measuring


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _figures(seconds: list[float]) -> dict:
    return {
        "runs": len(seconds),
        "p50_ms": round(_percentile(seconds, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def _scripts(results) -> dict:  # type: ignore[no-untyped-def]
    holdings = [h for e in results.editions for h in e.holdings]
    cyrillic = sum(1 for h in holdings if _CYRILLIC.search(h.title))
    return {"cyrillic": cyrillic, "other": len(holdings) - cyrillic}


def in_process(mix: dict[str, SearchQuery]) -> dict:
    dbs = {"sqlite": Database(f"sqlite:///{SQLITE}"), "postgresql": Database(PG_URL)}
    out: dict = {}
    try:
        for name, query in mix.items():
            seconds: dict[str, list[float]] = {engine: [] for engine in dbs}
            found = {}
            for run in range(WARMUP + RUNS):
                for engine, db in dbs.items():
                    started = time.perf_counter()
                    with db.session() as session:
                        results = search(session, query)
                    if run >= WARMUP:
                        seconds[engine].append(time.perf_counter() - started)
                    found[engine] = results
            out[name] = {
                engine: {
                    **_figures(seconds[engine]),
                    "editions": found[engine].total,
                    "page_holdings": _scripts(found[engine]),
                }
                for engine in dbs
            }
            print(
                f"  {name}: "
                + ", ".join(
                    f"{e} p50 {f['p50_ms']} ms p99 {f['p99_ms']} ms, {f['editions']} editions"
                    for e, f in out[name].items()
                ),
                flush=True,
            )
    finally:
        for db in dbs.values():
            db.dispose()
    return out


def _parameters(query: SearchQuery) -> dict:
    wanted = {
        "q": query.text,
        "source": query.source,
        "language": query.language,
        "year_from": query.year_from,
        "year_to": query.year_to,
        "page": query.page,
        "per_page": query.per_page,
    }
    return {k: v for k, v in wanted.items() if v is not None}


def over_http(mix: dict[str, SearchQuery]) -> dict:
    configs = {
        "sqlite": config_file(SQLITE),
        "postgresql": config_file(DATA / "search-postgres.toml", PG_URL),
    }
    for config in configs.values():
        config.write_text(config.read_text() + "[harvest]\nscheduler = false\n")
    servers, out = {}, {}
    try:
        for engine, config in configs.items():
            servers[engine] = libfed_server(config)
        clients = {engine: requests.Session() for engine in servers}
        for name, query in mix.items():
            seconds: dict[str, list[float]] = {engine: [] for engine in servers}
            total = {}
            for run in range(WARMUP + HTTP_RUNS):
                for engine, server in servers.items():
                    url = server.url.removesuffix("/oai") + "/api/v1/search"
                    started = time.perf_counter()
                    response = clients[engine].get(url, params=_parameters(query), timeout=120)
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    total[engine] = response.json()["total"]
                    if run >= WARMUP:
                        seconds[engine].append(elapsed)
            out[name] = {
                engine: {**_figures(seconds[engine]), "editions": total[engine]}
                for engine in servers
            }
            print(
                f"  {name}: "
                + ", ".join(
                    f"{e} p50 {f['p50_ms']} ms p99 {f['p99_ms']} ms" for e, f in out[name].items()
                ),
                flush=True,
            )
        for engine, server in servers.items():
            out.setdefault("peak_server_rss_mb", {})[engine] = round(server.peak_rss_mb(), 1)
    finally:
        for server in servers.values():
            server.stop()
    return out


# ------------------------------------------------------------------ checks


def _entries(url: str, ids: list[int]) -> dict[int, tuple]:
    db = Database(url)
    columns = ", ".join(_ENTRY_COLUMNS)
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT {columns} FROM search_entries WHERE record_id IN ({', '.join(map(str, ids))})"
            )
        ).all()
    db.dispose()
    return {row[0]: tuple(row) for row in rows}


def check_sample(count: int = 300) -> int:
    """The stored entries are what libfed.records.search_documents makes of the stored oai_dc."""
    ids = sorted(random.Random(SEED).sample(range(1, RECORDS + 1), min(count, RECORDS)))
    with sqlite3.connect(SQLITE) as lite:
        stored = lite.execute(
            "SELECT f.record_id, f.body_xml, s.set_spec FROM record_formats f LEFT JOIN "
            f"record_sets s ON s.record_id = f.record_id WHERE f.record_id IN "
            f"({', '.join(map(str, ids))})"
        ).fetchall()
    expected = {}
    for record_id, body, spec in stored:
        document = document_from_oai_dc(metadata_of(body))
        row = entry_row(record_id, document, [spec] if spec else [])
        expected[record_id] = tuple(row[c] for c in _ENTRY_COLUMNS)
    for url in (f"sqlite:///{SQLITE}", PG_URL):
        assert _entries(url, ids) == expected, f"entries differ from the documents in {url}"
    return len(expected)


def _digest(url: str) -> str:
    db = Database(url)
    h = hashlib.sha256()
    columns = ", ".join(_ENTRY_COLUMNS)
    with db.engine.connect() as connection:
        for row in connection.execute(
            text(f"SELECT {columns} FROM search_entries ORDER BY record_id")
        ):
            h.update(repr(tuple(row)).encode())
    db.dispose()
    return h.hexdigest()


def timed_rebuild() -> dict:
    """libfed.records.search_index.rebuild over every record, per engine; same entries after."""
    out = {}
    for engine, url in (("sqlite", f"sqlite:///{SQLITE}"), ("postgresql", PG_URL)):
        before = _digest(url)
        db = Database(url)
        started = time.perf_counter()
        made = search_index.rebuild(db)
        seconds = time.perf_counter() - started
        db.dispose()
        assert _digest(url) == before, f"rebuild made other entries on {engine}"
        out[engine] = {
            "entries": made,
            "seconds": round(seconds, 1),
            "records_per_second": round(made / seconds),
        }
        print(f"  rebuild on {engine}: {out[engine]}", flush=True)
    return out


def editions() -> dict:
    db = Database(PG_URL)
    with db.engine.connect() as connection:
        out = dict(
            connection.execute(
                text(
                    "SELECT count(*) AS editions, count(*) FILTER (WHERE n > 1) AS shared, "
                    "count(*) FILTER (WHERE isbn) AS by_isbn FROM (SELECT edition_key, count(*) AS n, "
                    "bool_or(edition_key LIKE 'isbn:%') AS isbn FROM search_entries "
                    "GROUP BY edition_key) e"
                )
            )
            .one()
            ._mapping
        )
        out["languages"] = dict(
            connection.execute(
                text(
                    "SELECT coalesce(language, '-'), count(*) FROM search_entries GROUP BY 1 "
                    "ORDER BY 2 DESC"
                )
            ).all()
        )
        out["sources"] = dict(
            connection.execute(
                text(
                    "SELECT coalesce(source, 'local'), count(*) FROM search_entries GROUP BY 1 "
                    "ORDER BY 2 DESC"
                )
            ).all()
        )
    db.dispose()
    return out


# ------------------------------------------------------------------ the report


def table(results: dict) -> str:
    lines = [
        "| query | words | engine | in-process p50 / p99 ms | HTTP p50 / p99 ms | editions |",
        "|---|---|---|---:|---:|---:|",
    ]
    for name, words in results["queries"].items():
        for engine in ("sqlite", "postgresql"):
            local = results["in_process"][name][engine]
            http = results.get("http", {}).get(name, {}).get(engine)
            over = f"{http['p50_ms']} / {http['p99_ms']}" if http else "-"
            lines.append(
                f"| {name} | `{words}` | {engine} | {local['p50_ms']} / "
                f"{local['p99_ms']} | {over} | {local['editions']:,} |"
            )
    return "\n".join(lines)


def write(results: dict) -> None:
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False))


def main() -> None:
    DATA.mkdir(exist_ok=True)
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    results: dict = {
        "date": date,
        "records": RECORDS,
        "runs": RUNS,
        "http_runs": HTTP_RUNS,
        "postgres": SERVER,
    }
    print(
        f"making {RECORDS:,} records and their search documents, loading both engines ...",
        flush=True,
    )
    stats, results["data"] = build()
    print(json.dumps(results["data"]), "\nfilling search_entries ...", flush=True)
    results["index"] = {"sqlite": fill_sqlite(), "postgresql": fill_postgres()}
    results["data"] |= editions()
    results["data"]["entries_checked"] = check_sample()
    print(json.dumps(results["index"]), flush=True)
    write(results)
    mix = query_mix(stats)
    results["queries"] = {name: query.text for name, query in mix.items()}
    results["filters"] = {name: _parameters(query) for name, query in mix.items()}
    print("queries in-process, SQLite and PostgreSQL alternately ...", flush=True)
    results["in_process"] = in_process(mix)
    write(results)
    if HTTP_RUNS:
        print("queries over HTTP (libfed serve) ...", flush=True)
        results["http"] = over_http(mix)
        write(results)
    if REBUILD:
        print("libfed.records.search_index.rebuild on both engines ...", flush=True)
        results["rebuild"] = timed_rebuild()
        write(results)
    if os.environ.get("BENCH_SEARCH_KEEP_PG") != "1":
        _drop(PG_URL)
    print(table(results))
    print(f"\nfigures in {OUT}")


def _drop(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from libfed.kernel.db import normalised_url

    admin = create_engine(
        make_url(normalised_url(url)).set(database="test"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'
        )
    admin.dispose()


if __name__ == "__main__":
    main()
