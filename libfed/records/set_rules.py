"""Sets defined by rules: conditions a record must meet to be a member (docs/sets.md).

Why: a set made by `libfed import --set` is whatever one import said; aggregators ask
for sets by language, period, subject or collection, which must follow the catalogue
as it changes. As in invenio-oaiserver (a set is a stored query) and Koha's set
mappings (MARC field and subfield conditions), a set may have a rule, and membership
is decided where records are written (libfed.records.repository.store, so import,
harvest, accession and rerender alike) and again over every stored record when a rule
changes (libfed.records.set_membership).

A rule's conditions are combined with AND; several values in one condition with OR.
Each condition reads what the index already reads, so a rule and a search agree: the
year and subject keys of the record's search entry (libfed.records.search_documents),
its languages from oai_dc (the crosswalk writes MARC 008/35-37 and 041 there, and a
harvested record brings its own), its source from its `source:NAME` set, and MARC
fields from its stored MARCXML (a record harvested as oai_dc only has none, so a
field condition never matches it).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Annotated, Literal

from babel.core import get_global
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel.errors import N_, Invalid, Message

from .formats import MARC21, OAI_DC
from .identifiers import is_set_spec
from .models import SetRule
from .search_index import SOURCE_SET, source_of
from .search_keys import FOLDED, query_keys

LOCAL = "local"  # the source condition's name for this library's own records, as search's
MAX_VALUES = 50  # per condition
MAX_FIELDS = 20  # field conditions per rule
MAX_VALUE = 200  # characters of one value
_PREFIX_FROM = 4  # letters: a longer subject word matches as a prefix, as search's words do
_MARC = "{http://www.loc.gov/MARC21/slim}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DC_LANGUAGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?language(?:\s[^>]*)?>([^<]*)</")
# ISO 639-2 (bibliographic and terminology) and 639-3 codes to ISO 639-1, from CLDR:
# a rule for `aze` meets a record catalogued `az`, and `ger` one catalogued `deu` or `de`.
_LANGUAGE_ALIASES: Mapping[str, str] = get_global("language_aliases")

Value = Annotated[str, Field(min_length=1, max_length=MAX_VALUE)]
Values = Annotated[list[Value], Field(max_length=MAX_VALUES)]
Operator = Literal["equals", "contains", "starts-with"]
# How an operator is typed in a field condition (650a~history): '=', '~', '^'.
OPERATOR_SIGNS: Mapping[str, Operator] = {"=": "equals", "~": "contains", "^": "starts-with"}
_FIELD = re.compile(
    r"(?P<tag>[0-9]{3})(?:(?P<code>[a-z0-9])|/(?P<start>[0-9]{1,2})(?:-(?P<end>[0-9]{1,2}))?)?"
    r"(?P<sign>[=~^])(?P<values>.*)",
    re.DOTALL,
)
_YEARS = re.compile(r"(?P<start>[0-9]{1,4})?\s*(?P<dash>-)?\s*(?P<end>[0-9]{1,4})?")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_SOURCE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def normalized(text: str) -> str:
    """A MARC value as a field condition compares it: NFC, case folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def language_code(value: str) -> str:
    """A language as catalogued (aze, az, az-Latn, AZE) in one form: its ISO 639-1 code
    where it has one, else its lowercased code."""
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return _LANGUAGE_ALIASES.get(code, code)


class FieldCondition(BaseModel):
    """A MARC field's value: a data field's subfield (any subfield when `code` is None),
    or a control field (001-009), whole or the characters `start` to `end`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: Annotated[str, Field(pattern=r"^[0-9]{3}$")]
    code: Annotated[str | None, Field(pattern=r"^[a-z0-9]$")] = None
    start: Annotated[int | None, Field(ge=0, le=99)] = None
    end: Annotated[int | None, Field(ge=0, le=99)] = None
    operator: Operator
    values: Annotated[list[Value], Field(min_length=1, max_length=MAX_VALUES)]

    @model_validator(mode="after")
    def _fits_the_tag(self) -> FieldCondition:
        control = self.tag < "010"
        if control and self.code is not None:
            raise ValueError(
                Message(N_("{tag} is a control field: it has no subfields"), tag=self.tag)
            )
        if not control and self.start is not None:
            raise ValueError(
                Message(
                    N_("{tag} is a data field: positions are for control fields (001-009)"),
                    tag=self.tag,
                )
            )
        if self.end is not None and (self.start is None or self.end < self.start):
            raise ValueError(Message(N_("the positions must run from the lower to the higher")))
        return self

    @property
    def typed(self) -> str:
        """The condition as `libfed sets rule --field` takes it: 650a~history|geography."""
        where = self.code or ""
        if self.start is not None:
            where = f"/{self.start:02d}" + (f"-{self.end:02d}" if self.end is not None else "")
        sign = next(s for s, o in OPERATOR_SIGNS.items() if o == self.operator)
        return f"{self.tag}{where}{sign}{'|'.join(self.values)}"


class Rule(BaseModel):
    """What a record must meet to be in the set: every condition given (an empty one
    is no condition), each by any of its values. Stored as this model's JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: Values = []
    year_from: Annotated[int | None, Field(ge=0, le=9999)] = None
    year_to: Annotated[int | None, Field(ge=0, le=9999)] = None
    subjects: Values = []
    fields: Annotated[list[FieldCondition], Field(max_length=MAX_FIELDS)] = []
    sources: Values = []

    @model_validator(mode="after")
    def _is_a_rule(self) -> Rule:
        for code in self.languages:
            if not _LANGUAGE.fullmatch(code):
                raise ValueError(
                    Message(
                        N_("{value!r} is not a language code (aze, rus, uzb; or az, ru)"),
                        value=code,
                        field="languages",
                    )
                )
        for source in self.sources:
            if not _SOURCE.fullmatch(source):
                raise ValueError(
                    Message(
                        N_("{value!r} is not a harvest source's name nor 'local'"),
                        value=source,
                        field="sources",
                    )
                )
        for subject in self.subjects:
            if not any(query_keys(word) for word in subject.split()):
                raise ValueError(
                    Message(N_("{value!r} has no word"), value=subject, field="subjects")
                )
        start, end = self.year_from, self.year_to
        if start is not None and end is not None and start > end:
            raise ValueError(_later(start, end))
        if not (self.languages or self.subjects or self.fields or self.sources) and (
            self.year_from is None and self.year_to is None
        ):
            raise ValueError(Message(N_("a rule needs at least one condition"), field="rule"))
        return self

    @property
    def years(self) -> str:
        """The year range as typed: 1990-2000, 1990-, -2000; "" for none."""
        if self.year_from is None and self.year_to is None:
            return ""
        if self.year_from == self.year_to:
            return str(self.year_from)
        return f"{self.year_from if self.year_from is not None else ''}-" + (
            str(self.year_to) if self.year_to is not None else ""
        )

    def options(self) -> list[str]:
        """The rule as `libfed sets rule` options would give it again."""
        typed = [f"--language {code}" for code in self.languages]
        typed += [f"--year {self.years}"] if self.years else []
        typed += [f"--subject {_quoted(word)}" for word in self.subjects]
        typed += [f"--field {_quoted(condition.typed)}" for condition in self.fields]
        typed += [f"--source {name}" for name in self.sources]
        return typed

    def needs(self) -> set[str]:
        """The stored formats its conditions read (oai_dc for languages, marc21 for fields)."""
        return ({OAI_DC.prefix} if self.languages else set()) | (
            {MARC21.prefix} if self.fields else set()
        )

    def matches(self, facts: Facts) -> bool:
        if self.sources and (facts.source or LOCAL) not in self.sources:
            return False
        if self.year_from is not None or self.year_to is not None:
            if facts.year is None:
                return False
            if self.year_from is not None and facts.year < self.year_from:
                return False
            if self.year_to is not None and facts.year > self.year_to:
                return False
        if self.languages and facts.languages.isdisjoint(
            language_code(code) for code in self.languages
        ):
            return False
        if self.subjects and not any(facts.has_words(subject) for subject in self.subjects):
            return False
        return all(facts.has_field(condition) for condition in self.fields)


def _quoted(text: str) -> str:
    return f"'{text}'" if any(c in text for c in " |'\"$&;<>*?") else text


def _split(values: Iterable[str]) -> list[str]:
    """Values as typed: repeated options, or one option with commas between values."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_years(text: str) -> tuple[int | None, int | None]:
    """`1990-2000`, `1990-` (from), `-2000` (to), `1995` (that year); Invalid otherwise."""
    match = _YEARS.fullmatch(text.strip())
    if not text.strip() or match is None or not (match["start"] or match["end"]):
        raise Invalid(
            {
                "years": Message(
                    N_("{value!r} is not a year range (1990-2000, 1990-, -2000 or 1995)"),
                    value=text,
                )
            }
        )
    start = int(match["start"]) if match["start"] else None
    end = int(match["end"]) if match["end"] else None
    if not match["dash"]:
        return start, start
    if start is not None and end is not None and start > end:
        raise Invalid({"years": _later(start, end)})
    return start, end


def _later(start: int, end: int) -> Message:
    return Message(
        N_("the years run from {start} to {end}: the first must not be later"),
        start=start,
        end=end,
        field="years",
    )


def parse_field(text: str) -> FieldCondition:
    """A field condition as typed (see docs/sets.md): TAG, then a subfield code or a
    control field's /START[-END], then = (equals), ~ (contains) or ^ (starts with),
    then values separated by |. Invalid with the reason otherwise."""
    match = _FIELD.fullmatch(text.strip())
    if match is None:
        raise Invalid(
            {
                "fields": Message(
                    N_(
                        "{value!r} is not a field condition: TAG, a subfield code or "
                        "/POSITIONS, then = ~ or ^ and the values (650a~history, "
                        "008/35-37=aze)"
                    ),
                    value=text,
                )
            }
        )
    values = [v.strip() for v in match["values"].split("|") if v.strip()]
    try:
        return FieldCondition(
            tag=match["tag"],
            code=match["code"],
            start=int(match["start"]) if match["start"] else None,
            end=int(match["end"]) if match["end"] else None,
            operator=OPERATOR_SIGNS[match["sign"]],
            values=values,
        )
    except ValidationError as error:
        reasons = Invalid.of(error).fields
        reason = reasons.get("values") or next(iter(reasons.values()))
        raise Invalid(
            {"fields": Message(N_("{value!r}: {reason}"), value=text, reason=reason)}
        ) from None


def parse_rule(
    *,
    languages: Iterable[str] = (),
    years: str = "",
    subjects: Iterable[str] = (),
    fields: Iterable[str] = (),
    sources: Iterable[str] = (),
) -> Rule:
    """A rule from what a person typed (the CLI's options, the page's form); Invalid
    naming each refused condition, by the form's field names."""
    refused: dict[str, str] = {}
    start = end = None
    if years.strip():
        try:
            start, end = parse_years(years)
        except Invalid as error:
            refused.update(error.fields)
    conditions = []
    for typed in fields:
        if typed.strip():
            try:
                conditions.append(parse_field(typed))
            except Invalid as error:
                refused.setdefault("fields", error.fields["fields"])
    if refused:
        raise Invalid(refused)
    try:
        return Rule(
            languages=[code.lower() for code in _split(languages)],
            year_from=start,
            year_to=end,
            subjects=[" ".join(s.split()) for s in subjects if s.strip()],
            fields=conditions,
            sources=_split(sources),
        )
    except ValidationError as error:
        raise Invalid(
            {name.split(".")[0]: text for name, text in Invalid.of(error).fields.items()}
        ) from None


def check_spec(spec: str) -> None:
    """A set a rule may define: a setSpec outside the harvester's `source:` sets, whose
    members the harvester alone decides (search tells records apart by them)."""
    if not is_set_spec(spec):
        raise Invalid(
            {
                "spec": Message(
                    N_("{value!r} is not a setSpec (letters, digits, -_.!~*'() and ':')"),
                    value=spec,
                )
            }
        )
    if spec == SOURCE_SET[:-1] or spec.startswith(SOURCE_SET):
        raise Invalid(
            {
                "spec": Message(
                    N_("{value!r} is a harvest source's set: the harvester decides its members"),
                    value=spec,
                )
            }
        )


class Facts:
    """What rules read of one record, each read only when a rule asks for it."""

    def __init__(
        self,
        source: str | None,
        year: int | None,
        subject_key: str,
        oai_dc: bytes | None,
        marc: bytes | None,
    ) -> None:
        self.source, self.year = source, year
        self._subject_key, self._oai_dc, self._marc = subject_key, oai_dc, marc

    @cached_property
    def languages(self) -> frozenset[str]:
        """Its dc:language values. Read by a pattern, not a parse: a rule change reads
        every record's oai_dc, which this server wrote (or intake checked) as XML, and
        parsing it whole cost ten times more than the rest of the evaluation."""
        if not self._oai_dc:
            return frozenset()
        return frozenset(
            language_code(html.unescape(value.decode("utf-8", "replace")))
            for value in _DC_LANGUAGE.findall(self._oai_dc)
            if value.strip()
        )

    @cached_property
    def _tokens(self) -> frozenset[str]:
        return frozenset(self._subject_key.split())

    def _has_word(self, word: str) -> bool:
        """A word as search matches it (_word_keys), the last token as a prefix at four
        letters or more."""
        for *whole, last in _word_keys(word):
            if not all(t in self._tokens for t in whole):
                continue
            bare = last.removeprefix(FOLDED)
            if last in self._tokens or (
                len(bare) >= _PREFIX_FROM and any(t.startswith(last) for t in self._tokens)
            ):
                return True
        return False

    def has_words(self, phrase: str) -> bool:
        """Every word of `phrase` among the record's subjects (6xx, dc:subject)."""
        words = phrase.split()
        return bool(words) and all(self._has_word(word) for word in words)

    @cached_property
    def _marc_record(self) -> etree._Element | None:
        if not self._marc:
            return None
        try:
            return etree.fromstring(self._marc, _PARSER)
        except etree.XMLSyntaxError:
            return None

    def _values(self, tag: str) -> Iterator[tuple[str, str]]:
        """(subfield code, value) of every occurrence of `tag` (a control field: code '')."""
        record = self._marc_record
        if record is None:
            return
        for element in record.iterchildren(f"{_MARC}controlfield", f"{_MARC}datafield"):
            if element.get("tag") != tag:
                continue
            if element.tag == f"{_MARC}controlfield":
                yield "", element.text or ""
            else:
                for sub in element.iterchildren(f"{_MARC}subfield"):
                    yield sub.get("code", ""), sub.text or ""

    def has_field(self, condition: FieldCondition) -> bool:
        wanted = [normalized(v) for v in condition.values]
        for code, value in self._values(condition.tag):
            if condition.code is not None and code != condition.code:
                continue
            if condition.start is not None:
                stop = (condition.end if condition.end is not None else condition.start) + 1
                value = value[condition.start : stop]
            if _compares(condition.operator, normalized(value), wanted):
                return True
        return False


@lru_cache(maxsize=1024)
def _word_keys(word: str) -> tuple[tuple[str, ...], ...]:
    """The token sequences a subject word matches by, as a search word does: its exact
    keys and its folded ones, each also as folded tokens (a folded key meets a record's
    folded tokens and one written without the region's letters)."""
    keys = [tuple(k.split()) for k in query_keys(word)]
    keys += [
        option
        for k in query_keys(word, folded=True)
        for option in (tuple(k.split()), tuple(FOLDED + t for t in k.split()))
    ]
    return tuple(dict.fromkeys(k for k in keys if k))


def _compares(operator: Operator, value: str, wanted: list[str]) -> bool:
    if operator == "equals":
        return value in wanted
    if operator == "contains":
        return any(w in value for w in wanted)
    return any(value.startswith(w) for w in wanted)


@dataclass(frozen=True)
class Rules:
    """The rules in force, by set spec: what a write of records evaluates."""

    by_spec: Mapping[str, Rule]

    def __bool__(self) -> bool:
        return bool(self.by_spec)

    @cached_property
    def specs(self) -> frozenset[str]:
        return frozenset(self.by_spec)

    def needs(self) -> set[str]:
        return set().union(*(rule.needs() for rule in self.by_spec.values()))

    def matching(self, facts: Facts) -> set[str]:
        """The specs whose rule `facts` meets (without their ancestors)."""
        return {spec for spec, rule in self.by_spec.items() if rule.matches(facts)}

    def within(self, spec: str) -> Rules:
        """The rules that can put a record in `spec`: its own and its subsets'."""
        return Rules(
            {s: r for s, r in self.by_spec.items() if s == spec or s.startswith(spec + ":")}
        )

    def replaced(self, spec: str, rule: Rule | None) -> Rules:
        """These rules with `spec`'s rule set to `rule` (None: removed)."""
        changed = {s: r for s, r in self.by_spec.items() if s != spec}
        if rule is not None:
            changed[spec] = rule
        return Rules(changed)


def load_rules(session: Session) -> Rules:
    """Every set's rule, as stored (each was validated before it was)."""
    rows = session.execute(select(SetRule.set_spec, SetRule.rule_json)).all()
    return Rules({spec: Rule.model_validate_json(text) for spec, text in rows})


def with_ancestors(specs: Iterable[str]) -> set[str]:
    """`a:b:c` -> {a, a:b, a:b:c}: membership of a set implies membership of its parents."""
    result: set[str] = set()
    for spec in specs:
        parts = spec.split(":")
        result.update(":".join(parts[: i + 1]) for i in range(len(parts)))
    return result


def sets_of(
    given: set[str], rules: Rules, facts: Callable[[set[str]], Facts]
) -> tuple[set[str], set[str]]:
    """A record's sets, and which of them are hand-assigned: those `given` by hand (kept
    and newly written into) less the sets a rule defines, then those whose rule the
    record meets (`facts`, read only when there are rules). Each with its ancestors:
    a member of `a:b` is a member of `a`, whatever `a`'s own rule says."""
    hand = with_ancestors(given - rules.specs)
    if not rules:
        return hand, hand
    return hand | with_ancestors(rules.matching(facts(hand))), hand


def facts_of(
    hand: Iterable[str],
    year: int | None,
    subject_key: str | None,
    formats: Mapping[str, bytes | None],
) -> Facts:
    """The facts of a record: its hand-assigned sets (which name its source), its
    search entry's year and subject key, its stored metadata by format prefix."""
    return Facts(
        source_of(hand),
        year,
        subject_key or "",
        formats.get(OAI_DC.prefix),
        formats.get(MARC21.prefix),
    )
