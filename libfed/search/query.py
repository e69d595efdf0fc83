"""Union catalogue queries: words in any script, matched by search key, grouped by edition.

A query is words, each optionally limited to a field (`title:`, `author:`,
`subject:`); every word must match (in any field unless limited), by any of its
keys (a Cyrillic word has one per orthography, libfed.records.search_keys). Words of four
or more letters also match as a prefix, because the region's languages add suffixes
(`kutubxona` finds `kutubxonalar`, `kitob` finds `kitobi`). A valid ISBN or ISSN is
matched as that number however it is hyphenated. A word typed without the region's
letters (`sirvan`, `kitabxanaciliq`, `Ширваншахлар` for Ширваншаһлар) matches by its
folded key too; records that match every word by its exact key rank first.

Results are editions (libfed.records.search_documents.edition_key), ranked by their
best-matching record: a title hit weighs most, then authors, subjects, the rest
(SQLite: FTS5's bm25; PostgreSQL: ts_rank over the weighted tsvector). Each edition
lists every record of it, local and harvested: the holdings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn

from libfed.records.search_keys import FOLDED, query_keys

LOCAL = "local"  # the source filter's name for this library's own records
MAX_WORDS = 12
MAX_PER_PAGE = 100
RANKED = 5_000  # matching records ranked at most, the newest (see _ranked_editions)
MAX_HOLDINGS = 100  # per edition shown; `holdings_total` says how many there are
FIELDS = {
    "title": ("title_key", "A"),
    "author": ("author_key", "B"),
    "subject": ("subject_key", "C"),
}
_PREFIX_FROM = 4  # letters: shorter words match whole, or "ab" would match half the catalogue
_WEIGHTS = "10.0, 4.0, 2.0, 1.0"  # bm25 weights of title, authors, subjects, the rest
NO_WORDS = "Give at least one word to search for."
_WORD = re.compile(r"(?:(\w+):)?(\S+)")
_LABELS = {"isbn", "issn"}
_NUMBER_PART = re.compile(r"[0-9][0-9-]*[0-9Xx]?")


class QueryError(ValueError):
    """The query cannot be run as given; the message says why, for the user."""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    source: str | None = None  # a harvest source's name, or LOCAL
    language: str | None = None  # as catalogued, e.g. "uzb"
    year_from: int | None = None
    year_to: int | None = None
    set_spec: str | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Holding:
    """One record of an edition: where it is (source None: this library) and how it reads."""

    identifier: str
    source: str | None
    title: str
    author: str | None
    year: int | None
    language: str | None


@dataclass(frozen=True)
class Edition:
    key: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None
    holdings: list[Holding]
    holdings_total: int


@dataclass(frozen=True)
class SearchResults:
    query: SearchQuery
    total: int  # editions (among the ranked matches, when `more`)
    editions: list[Edition] = field(default_factory=list)
    # More records match than are ranked (RANKED, the newest): a broad query, to narrow.
    more: bool = False


@dataclass(frozen=True)
class _Term:
    """One word: its alternative token sequences (the exact keys first, then the folded
    ones), how many of them are exact, the field it is limited to."""

    alternatives: tuple[tuple[str, ...], ...]
    column: str | None
    prefix: bool
    exact: int = 1

    def options(self, exact_only: bool = False) -> list[tuple[tuple[str, ...], bool]]:
        """(tokens, prefix-matched) of each alternative. A folded key shorter than the
        exact one (şah: shah, sah) is a prefix only at four letters, like any word."""
        chosen = self.alternatives[: self.exact] if exact_only else self.alternatives
        return [
            (a, self.prefix and len(a[-1].removeprefix(FOLDED)) >= _PREFIX_FROM)
            if i >= self.exact
            else (a, self.prefix)
            for i, a in enumerate(chosen)
        ]

    @property
    def folds(self) -> bool:
        return len(self.alternatives) > self.exact


def _alternatives(word: str, folded: bool) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(k.split()) for k in query_keys(word, folded) if k.strip()))


def _standard_number(word: str) -> str | None:
    if stdnum_isbn.is_valid(word):
        return stdnum_isbn.to_isbn13(stdnum_isbn.compact(word))
    if stdnum_issn.is_valid(word):
        return stdnum_issn.compact(word).lower()
    return None


def _words(query_text: str) -> list[str]:
    """The query's words, with a standard number typed in groups ("ISBN 978 9952 8123 4 3")
    joined into one word and its label dropped."""
    words = [w for w in query_text.split() if w.lower().rstrip(":") not in _LABELS]
    joined, i = [], 0
    while i < len(words):
        end = i + 1
        if _NUMBER_PART.fullmatch(words[i]):
            for j in range(min(len(words), i + 7), i + 1, -1):
                if all(_NUMBER_PART.fullmatch(w) for w in words[i:j]) and _standard_number(
                    "".join(words[i:j])
                ):
                    end = j
                    break
        joined.append("".join(words[i:end]))
        i = end
    return joined


def parse(query_text: str) -> list[_Term]:
    """The query's words as terms; an unknown `field:` is read as part of the word."""
    terms = []
    for whole in _words(query_text):
        match = _WORD.fullmatch(whole)
        if match is None:
            continue
        name, word = match.group(1), match.group(2)
        if name is not None and name.lower() not in FIELDS and name.lower() not in _LABELS:
            name, word = None, whole
        number = _standard_number(word)
        if number is not None:
            terms.append(_Term(((number,),), "other_key", False))
        else:
            exact = _alternatives(word, folded=False)
            if not exact:
                continue  # punctuation only
            # A folded key meets a record's folded tokens (marked) and a record written
            # without the letters (Sirvan, its exact tokens).
            folded = tuple(
                option
                for a in _alternatives(word, folded=True)
                for option in (a, tuple(FOLDED + t for t in a))
                if option not in exact
            )
            column = FIELDS[name.lower()][0] if name and name.lower() in FIELDS else None
            prefix = all(len(a[-1]) >= _PREFIX_FROM for a in exact)
            terms.append(_Term(exact + folded, column, prefix, len(exact)))
        if len(terms) > MAX_WORDS:
            raise QueryError(f"A query has at most {MAX_WORDS} words.")
    return terms


def _fts5(terms: list[_Term], exact_only: bool = False) -> str:
    """An FTS5 MATCH expression; tokens are [a-z0-9]+, so quoting them is escaping enough."""
    parts = []
    for term in terms:
        options = []
        for tokens, prefix in term.options(exact_only):
            phrase = " + ".join(f'"{t}"' for t in tokens)
            options.append(phrase + ("*" if prefix else ""))
        expression = "(" + " OR ".join(options) + ")"
        parts.append(f"{term.column} : {expression}" if term.column else expression)
    return " AND ".join(parts)


def _tsquery(terms: list[_Term], exact_only: bool = False) -> str:
    """A to_tsquery('simple', ...) expression, the same meaning as _fts5."""
    weight = {column: w for column, w in FIELDS.values()} | {"other_key": "D"}
    parts = []
    for term in terms:
        label = weight[term.column] if term.column else ""
        options = []
        for tokens, prefix in term.options(exact_only):
            last = len(tokens) - 1
            options.append(
                " <-> ".join(
                    f"{t}:{'*' if prefix and i == last else ''}{label}".rstrip(":")
                    for i, t in enumerate(tokens)
                )
            )
        parts.append("(" + " | ".join(options) + ")")
    return " & ".join(parts)


def _filters(query: SearchQuery, entry: str) -> tuple[str, dict[str, Any]]:
    clauses, values = [], {}
    if query.source == LOCAL:
        clauses.append(f"{entry}.source IS NULL")
    elif query.source:
        clauses.append(f"{entry}.source = :source")
        values["source"] = query.source
    if query.language:
        clauses.append(f"{entry}.language = :language")
        values["language"] = query.language.lower()
    if query.year_from is not None:
        clauses.append(f"{entry}.year >= :year_from")
        values["year_from"] = query.year_from
    if query.year_to is not None:
        clauses.append(f"{entry}.year <= :year_to")
        values["year_to"] = query.year_to
    if query.set_spec:
        clauses.append(
            f"EXISTS (SELECT 1 FROM record_sets s WHERE s.record_id = {entry}.record_id "
            "AND s.set_spec = :set_spec)"
        )
        values["set_spec"] = query.set_spec
    return "".join(f" AND {c}" for c in clauses), values


def _ranked_editions(session: Session, query: SearchQuery, terms: list[_Term]) -> list[Any]:
    """(edition key, total editions, matches ranked) of the page, best first.

    Ranked are the newest RANKED matching records (the highest ids, the last catalogued
    or harvested), all of them for any but the broadest query: ranking costs some 2 µs
    a match on either engine, and a word in a quarter of a million records would take
    half a second. Both engines walk the matches newest first and stop there.
    When a word matches by a folded key too, records matching every word exactly rank
    above the others: a second, exact-only test of each ranked match.
    """
    folds = any(term.folds for term in terms)
    where, values = _filters(query, "e")
    values |= {
        "limit": query.per_page,
        "offset": (query.page - 1) * query.per_page,
        "ranked": RANKED,
        "cap": RANKED + 1,  # one more than ranked: are there more?
    }
    if session.get_bind().dialect.name == "postgresql":
        exact = "document @@ to_tsquery('simple', :exact)" if folds else "true"
        sql = (
            "WITH probe AS (SELECT e.record_id, e.edition_key, e.document FROM search_entries e "
            f"WHERE e.document @@ to_tsquery('simple', :match){where} "
            "ORDER BY e.record_id DESC LIMIT :cap), "
            "ranked AS (SELECT edition_key, ts_rank(document, to_tsquery('simple', :match)) "
            f"AS score, {exact} AS exact FROM probe ORDER BY record_id DESC LIMIT :ranked) "
            "SELECT edition_key, count(*) OVER () AS total, "
            "(SELECT count(*) FROM probe) AS matches FROM ranked GROUP BY edition_key "
            "ORDER BY bool_or(exact) DESC, max(score) DESC, edition_key "
            "LIMIT :limit OFFSET :offset"
        )
        values["match"] = _tsquery(terms)
        if folds:
            values["exact"] = _tsquery(terms, exact_only=True)
    else:
        # The FTS5 table drives (bm25 works only there), newest first, and stops at the cap.
        joined = " JOIN search_entries e ON e.record_id = f.rowid" if where else ""
        # The exact matches among the probed: one more FTS5 query over the probe's rowid
        # range (FTS5 seeks there). Per row, FTS5 would read the whole doclist each time.
        exact_hits = (
            "exact_hits AS MATERIALIZED (SELECT rowid FROM search_fts WHERE search_fts "
            "MATCH :exact AND rowid >= (SELECT min(record_id) FROM probe)), "
            if folds
            else ""
        )
        exact = "record_id IN (SELECT rowid FROM exact_hits)" if folds else "1"
        sql = (
            "WITH probe AS MATERIALIZED (SELECT f.rowid AS record_id, "
            f"bm25(search_fts, {_WEIGHTS}) AS score FROM search_fts f{joined} "
            f"WHERE search_fts MATCH :match{where} ORDER BY f.rowid DESC LIMIT :cap), "
            f"{exact_hits}"
            f"hits AS (SELECT *, {exact} AS exact FROM probe ORDER BY record_id DESC LIMIT :ranked) "
            "SELECT e.edition_key, count(*) OVER () AS total, "
            "(SELECT count(*) FROM probe) AS matches FROM hits h "
            "JOIN search_entries e ON e.record_id = h.record_id "
            "GROUP BY e.edition_key ORDER BY max(h.exact) DESC, min(h.score), e.edition_key "
            "LIMIT :limit OFFSET :offset"
        )
        values["match"] = _fts5(terms)
        if folds:
            values["exact"] = _fts5(terms, exact_only=True)
    return list(session.execute(text(sql), values))


_HOLDINGS = text(
    "SELECT e.edition_key, r.identifier, e.source, e.title, e.author, e.year, e.language, "
    "e.isbn FROM search_entries e JOIN records r ON r.id = e.record_id "
    "WHERE e.edition_key IN :keys ORDER BY e.edition_key, e.source IS NOT NULL, e.source, "
    "r.identifier"
).bindparams(bindparam("keys", expanding=True))


def editions(session: Session, keys: list[str]) -> list[Edition]:
    """The editions of these keys, in their order, each with its holdings: what a page of
    results shows, and what a record page shows of the edition the record is of."""
    if not keys:
        return []
    rows: dict[str, list[Any]] = {key: [] for key in keys}
    for row in session.execute(_HOLDINGS, {"keys": keys}):
        rows[row.edition_key].append(row)
    found = []
    for key in keys:
        holdings = rows[key]
        if not holdings:
            continue
        first = holdings[0]  # this library's own copy first, if it has one
        found.append(
            Edition(
                key=key,
                title=first.title,
                author=first.author,
                year=first.year,
                language=first.language,
                isbn=next((h.isbn for h in holdings if h.isbn), None),
                holdings=[
                    Holding(h.identifier, h.source, h.title, h.author, h.year, h.language)
                    for h in holdings[:MAX_HOLDINGS]
                ],
                holdings_total=len(holdings),
            )
        )
    return found


def search(session: Session, query: SearchQuery) -> SearchResults:
    """One page of editions matching `query`, each with its holdings."""
    if not 1 <= query.per_page <= MAX_PER_PAGE:
        raise QueryError(f"A page holds 1 to {MAX_PER_PAGE} editions.")
    terms = parse(query.text)
    if not terms:
        raise QueryError(NO_WORDS)
    ranked = _ranked_editions(session, query, terms)
    if not ranked:
        return SearchResults(query, 0)
    found = editions(session, [row.edition_key for row in ranked])
    return SearchResults(query, ranked[0].total, found, more=ranked[0].matches > RANKED)
