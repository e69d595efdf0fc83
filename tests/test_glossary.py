"""The catalogues say what the translator-librarian agreed (issue 15).

A librarian reads "отправка" on one page and "посылка" on the next and wonders whether
they are two things; the glossary (tests/fixtures/glossary.json, copied from the
review) fixes one word per notion in each language. Every string whose English names a
notion must use the agreed word (a stem, so that inflected forms pass), the strings found
wrong must be corrected, and an English word with two meanings must be two entries.
"""

from __future__ import annotations

import json
import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from libfed.web.i18n import TRANSLATIONS
from tests.conftest import ROOT

GLOSSARY = json.loads((ROOT / "tests" / "fixtures" / "glossary.json").read_text())
CODES = ["az", "ru", "uz_Latn", "uz_Cyrl"]
# What a translation keeps as it is: placeholders, quoted codes, web addresses.
_KEPT = re.compile(r"%\(\w+\)[sd]|\{[\w.]*(?:![rs])?\}|'[^'\s]*'|https?://\S*")


def _catalogue(code: str) -> Catalog:
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=code)


def _forms(string: str | tuple[str, ...]) -> tuple[str, ...]:
    return string if isinstance(string, tuple) else (string,)


def _ids(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return _forms(message.id)


def term_problems(catalogue: Catalog, code: str) -> list[str]:
    """Each translated string whose English names a notion of the glossary, and whose
    translation does not use the agreed word."""
    problems = []
    for term in GLOSSARY["terms"]:
        english = re.compile(term["match"], re.IGNORECASE)
        stems = [re.compile(stem, re.IGNORECASE) for stem in term[code]]
        for message in catalogue:
            if not message.id or _ids(message)[0] in term.get("exempt", ()):
                continue
            if not any(english.search(_KEPT.sub(" ", text)) for text in _ids(message)):
                continue
            for form in _forms(message.string):
                # An untranslated string is test_translations' to report.
                if form and not any(stem.search(_KEPT.sub(" ", form)) for stem in stems):
                    problems.append(f"{term['en']!r}: {_ids(message)[0]!r} -> {form!r}")
    return problems


@pytest.fixture(scope="module", params=CODES)
def catalogue(request) -> tuple[str, Catalog]:  # type: ignore[no-untyped-def]
    return request.param, _catalogue(request.param)


def test_every_string_uses_the_agreed_terms(catalogue: tuple[str, Catalog]) -> None:
    code, messages = catalogue
    problems = term_problems(messages, code)
    assert not problems, "\n".join(problems)


def test_a_string_with_another_word_for_a_notion_is_caught() -> None:
    """The stems are no wider than the agreed words: a calque or a synonym fails."""
    wrong = {
        "ru": [("Shipment %(id)s", "Посылка %(id)s"), ("Partners", "Контрагенты")],
        "az": [("Agreements", "Razılaşmalar"), ("Packing list", "Qablaşdırma siyahısı")],
        "uz_Latn": [("Parcels", "Posilkalar"), ("Filter the list", "Roʻyxatni saralash")],
        "uz_Cyrl": [("Title", "Номи"), ("Reference", "Қайд рақами")],
    }
    for code, strings in wrong.items():
        for msgid, translation in strings:
            catalogue = Catalog(locale=code)
            catalogue.add(msgid, translation)
            assert term_problems(catalogue, code), (code, msgid, translation)
    right = Catalog(locale="ru")
    right.add("No shipments yet.", "Отправок пока нет.")
    right.add("Copies sent to the partner", "Экземпляры, отправленные партнёру")
    assert not term_problems(right, "ru")


def test_the_strings_found_wrong_are_corrected(catalogue: tuple[str, Catalog]) -> None:
    code, messages = catalogue
    problems = []
    for entry in GLOSSARY["exact"]:
        if code not in entry:
            continue
        message = messages.get(entry["msgid"], context=entry.get("msgctxt"))
        if message is None:
            problems.append(f"missing: {entry['msgid']!r}")
            continue
        expected = entry[code]
        actual = list(message.string) if isinstance(expected, list) else message.string
        if actual != expected:
            problems.append(f"{entry['msgid']!r}: {actual!r}, agreed {expected!r}")
    assert not problems, "\n".join(problems)


def test_the_words_found_wrong_are_gone(catalogue: tuple[str, Catalog]) -> None:
    code, messages = catalogue
    found = [
        f"{word!r} in {form!r}"
        for message in messages
        if message.id
        for form in _forms(message.string)
        for word in GLOSSARY["wrong"][code]
        if word in form
    ]
    assert not found, "\n".join(found)


def test_no_suffix_follows_a_placeholder_in_azerbaijani() -> None:
    """Azerbaijani suffixes follow the vowels of the word they end ("5-ci" but "6-cı",
    "{lt}-dən" but "{lt}-dan"): written after a number that is not yet known, they are
    wrong for half the numbers. The sentences say it another way ("%(page)s nömrəli
    səhifə", "{lt} ədədindən kiçik")."""
    suffixed = re.compile(r"(?:%\(\w+\)[sd]|\{\w+(?:![rs])?\})[-\u2011\u2019']?[^\W\d_]")
    found = [
        form
        for message in _catalogue("az")
        if message.id
        for form in _forms(message.string)
        if suffixed.search(form)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("code", CODES)
def test_no_code_word_is_left_in_a_translation(code: str) -> None:
    """Field names of the code ('end_date', 'start_date') are English: the pages say
    the field's name in words."""
    snake = re.compile(r"\b[a-z]+_[a-z_]+\b")
    found = [
        form
        for message in _catalogue(code)
        if message.id
        for form in _forms(message.string)
        if snake.search(_KEPT.sub(" ", form))
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("code", CODES)
def test_a_word_with_two_meanings_is_two_entries(code: str) -> None:
    catalogue = _catalogue(code)
    for word, contexts in GLOSSARY["contexts"].items():
        assert catalogue.get(word) is None, f"{word!r} without a context"
        for context in contexts:
            message = catalogue.get(word, context=context)
            assert message is not None and message.string, (word, context)
