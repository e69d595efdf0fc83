"""Script-insensitive search keys: per language, the spellings a reader expects to meet.

A query word matches a record word when some key in query_keys(query word) equals
record_key(record word, record language) — the rule docs/search.md states.
"""

# The tests are about Cyrillic letters that look Latin and about apostrophe variants.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import threading
import time

import pytest

from libfed.records import search_keys as keys
from libfed.records.search_keys import LANGUAGES, orthography, query_keys, record_key


def matches(query_word: str, record_word: str, language: str | None) -> bool:
    return record_key(record_word, language) in query_keys(query_word)


def assert_meet(language: str, cyrillic: str, latin: str) -> None:
    """Both directions: the Latin query finds the Cyrillic record and the reverse, and
    the two spellings have the same key."""
    assert matches(latin, cyrillic, language), (latin, cyrillic, query_keys(latin))
    assert matches(cyrillic, latin, language), (cyrillic, latin, query_keys(cyrillic))
    assert record_key(cyrillic, language) == record_key(latin, language)


# --- Uzbek ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("кутубхона", "kutubxona"),
        ("ғалаба", "gʻalaba"),
        ("шаҳар", "shahar"),
        ("ёз", "yoz"),
        ("ер", "yer"),
        ("Ўзбекистон", "Oʻzbekiston"),
        ("Тошкент", "Toshkent"),
        ("маъно", "maʼno"),
        ("ҳаёт", "hayot"),
        ("Қорақалпоғистон", "Qoraqalpogʻiston"),
    ],
)
def test_uzbek_cyrillic_and_latin_meet(cyrillic: str, latin: str) -> None:
    assert_meet("uzb", cyrillic, latin)


@pytest.mark.parametrize(
    "spelling",
    [
        "Oʻzbekiston",  # U+02BB, the official turned comma
        "O'zbekiston",  # ASCII apostrophe, what most people type
        "O‘zbekiston",  # U+2018
        "O’zbekiston",  # U+2019, what word processors make of '
        "O`zbekiston",  # grave accent, an old keyboard habit
        "Oʼzbekiston",  # U+02BC
        "O´zbekiston",  # acute accent
        "O'ZBEKISTON",
        "Ozbekiston",  # apostrophe left out
    ],
)
def test_uzbek_apostrophe_variants_all_find_the_cyrillic_record(spelling: str) -> None:
    assert matches(spelling, "Ўзбекистон", "uzb")
    assert query_keys(spelling) == ("ozbekiston",)


def test_apostrophe_does_not_split_a_word() -> None:
    assert record_key("Oʻzbekiston Respublikasi", "uzb") == "ozbekiston respublikasi"


@pytest.mark.parametrize(
    ("query", "record"),
    [
        ("tarix", "tarif"),  # history / description: different words
        ("tarixi", "tarixiy"),  # its history / historical: the -iy fold needs a consonant
        ("yoz", "oz"),  # summer / few: y before a vowel is kept
        ("yer", "er"),  # earth / man
        ("kitob", "kitab"),  # Uzbek o and Azerbaijani a are not folded
    ],
)
def test_uzbek_words_that_must_not_meet(query: str, record: str) -> None:
    assert not matches(query, record, "uzb")


# --- Azerbaijani ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Азәрбајҹан", "Azərbaycan"),
        ("Бакы", "Bakı"),
        ("мәктәб", "məktəb"),
        ("Гарабағ", "Qarabağ"),
        ("Ҝәнҹә", "Gəncə"),
        ("шәһәр", "şəhər"),
        ("Шуша", "Şuşa"),
        ("өлкә", "ölkə"),
        ("ҹүмлә", "cümlə"),
        ("јол", "yol"),
    ],
)
def test_azerbaijani_cyrillic_and_latin_meet(cyrillic: str, latin: str) -> None:
    assert_meet("aze", cyrillic, latin)


@pytest.mark.parametrize(
    "ascii_spelling", ["Azerbaycan", "Baki", "mekteb", "Qarabag", "Gence", "sheher"]
)
def test_azerbaijani_typed_without_special_letters(ascii_spelling: str) -> None:
    cyrillic = {
        "Azerbaycan": "Азәрбајҹан",
        "Baki": "Бакы",
        "mekteb": "мәктәб",
        "Qarabag": "Гарабағ",
        "Gence": "Ҝәнҹә",
        "sheher": "шәһәр",
    }[ascii_spelling]
    assert matches(ascii_spelling, cyrillic, "aze")


def test_azerbaijani_s_cedilla_meets_uzbek_and_russian_sh() -> None:
    assert query_keys("Şuşa") == query_keys("Shusha") == ("shusha",)
    assert matches("Shusha", "Шуша", "rus")


def test_azerbaijani_typed_with_plain_s_is_not_s_cedilla() -> None:
    # ş is folded to sh (the Uzbek and Russian-romanization spelling), not to s.
    assert not matches("Susa", "Şuşa", "aze")


# --- Turkish and Azerbaijani dotted and dotless i --------------------------------------


@pytest.mark.parametrize("spelling", ["İstanbul", "ISTANBUL", "istanbul", "Istanbul"])
def test_dotted_capital_i_is_plain_i(spelling: str) -> None:
    assert query_keys(spelling) == ("istanbul",)
    assert matches(spelling, "İstanbul", "tur")


@pytest.mark.parametrize("spelling", ["IŞIK", "ışık", "Işık", "ishik"])
def test_dotless_i_is_plain_i(spelling: str) -> None:
    assert matches(spelling, "ışık", "tur")


def test_azerbaijani_capital_dotted_i() -> None:
    assert matches("İLHAM", "İlham", "aze")
    assert matches("ilham", "İlham", "aze")


# --- Karakalpak ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Қарақалпақстан", "Qaraqalpaqstan"),
        ("ҳүжжет", "hújjet"),
        ("ўақыт", "waqıt"),
        ("ел", "el"),
        ("өнер", "óner"),
        ("ғәрезсизлик", "ǵárezsizlik"),
        ("Нөкис", "Nókis"),
        ("миң", "mıń"),
    ],
)
def test_karakalpak_cyrillic_and_latin_meet(cyrillic: str, latin: str) -> None:
    assert_meet("kaa", cyrillic, latin)


def test_karakalpak_short_u_is_w_not_uzbek_o() -> None:
    # ў is w in Karakalpak and oʻ in Uzbek: a Cyrillic query is read both ways.
    keys = query_keys("ўақыт")
    assert "waqit" in keys
    assert "oaqit" in keys
    assert record_key("ўақыт", "kaa") == "waqit"
    assert record_key("ўақыт", "uzb") == "oaqit"


# --- Russian -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["Dostoevsky", "Dostoyevskiy", "Dostoevskii", "Dostoevskij", "Dostoevskiy"]
)
def test_russian_romanizations_of_dostoevsky(spelling: str) -> None:
    assert matches(spelling, "Достоевский", "rus")
    assert matches("Достоевский", spelling, "rus")


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Щедрин", "Shchedrin"),
        ("Хрущёв", "Khrushchev"),
        ("Хрущев", "Khrushchev"),
        ("объект", "obʺekt"),
        ("объект", "ob'ekt"),
        ("Новый", "Novyi"),
        ("Новый", "Novyy"),
        ("Новый", "Novy"),
        ("Толстой", "Tolstoy"),
        ("Чайковский", "Chaykovskiy"),
        ("Ельцин", "Yeltsin"),
        ("Ельцин", "Eltsin"),  # LC's initial e; BGN and Uzbek Latin write Ye
        ("Евгений", "Evgenii"),
        ("Елена", "Elena"),
        ("Жуков", "Zhukov"),
        ("Жуков", "Jukov"),
        ("Хорезм", "Xorezm"),
    ],
)
def test_russian_cyrillic_and_transliterations_meet(cyrillic: str, latin: str) -> None:
    assert matches(latin, cyrillic, "rus")
    assert matches(cyrillic, latin, "rus")


@pytest.mark.parametrize(
    ("cyrillic", "ala_lc"),
    [
        ("Братья", "Bratʹi͡a"),
        ("Россия", "Rossii͡a"),
        ("Юрий", "I͡Uriĭ"),
        ("Михайлович", "Mikhaĭlovich"),
        ("История", "Istorii͡a"),
        ("тюркских", "ti͡urkskikh"),
        ("Евгений", "Evgeniĭ"),
    ],
)
def test_russian_in_the_library_of_congress_romanization(cyrillic: str, ala_lc: str) -> None:
    """ALA-LC, the romanization of LC's and most libraries' records (tie bars, breves, primes):
    a reader types the Cyrillic or a plain spelling of it."""
    assert matches(cyrillic, ala_lc, "rus")
    assert matches(ala_lc.replace("\u0361", ""), cyrillic, "rus")


def test_russian_text_in_a_record_without_language_uses_the_uzbek_reading() -> None:
    # Uzbek Latin spells Russian names BGN-like, so this still meets.
    assert matches("Dostoevsky", "Достоевский", None)
    assert matches("Dostoyevskiy", "Достоевский", "uzb")


@pytest.mark.parametrize(
    ("query", "record"),
    [
        ("Toshkent", "Ташкент"),  # the Russian name of the city is another word
        ("Khrushchyov", "Хрущёв"),  # ё is read as е
        ("Tchaikovsky", "Чайковский"),  # French tch
    ],
)
def test_russian_spellings_that_do_not_meet(query: str, record: str) -> None:
    assert not matches(query, record, "rus")


# --- Diacritics and case ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "record"),
    [("Muller", "Müller"), ("cafe", "café"), ("CAFÉ", "café"), ("Sao Paulo", "São Paulo")],
)
def test_diacritics_and_case_folded(query: str, record: str) -> None:
    assert record_key(record, "ger") == " ".join(
        key for word in query.split() for key in query_keys(word)
    )


def test_decomposed_and_precomposed_letters_meet() -> None:
    assert query_keys("s\u0327ehir") == query_keys("şehir") == ("shehir",)
    assert query_keys("Mu\u0308ller") == ("muller",)


def test_german_ue_spelling_is_not_umlaut() -> None:
    assert not matches("Mueller", "Müller", "ger")


# --- Languages and tokens --------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("uzb", "uz"),
        ("uz", "uz"),
        ("UZB", "uz"),
        (" uzb ", "uz"),
        ("uz-Cyrl", "uz"),
        ("uz_Latn", "uz"),
        ("aze", "az"),
        ("az-Cyrl-AZ", "az"),
        ("kaa", "kaa"),
        ("rus", "ru"),
        ("ru", "ru"),
        ("tur", None),
        ("tr", None),
        ("eng", None),
        ("", None),
        (None, None),
    ],
)
def test_orthography(code: str | None, expected: str | None) -> None:
    assert orthography(code) == expected


def test_languages_map_only_to_known_orthographies() -> None:
    assert set(LANGUAGES.values()) <= {"uz", "az", "kaa", "ru", None}


def test_latin_text_has_one_key_whatever_the_language() -> None:
    text = "Oʻzbekiston tarixi, 2-jild"
    keys = {record_key(text, code) for code in [*LANGUAGES, None, "eng"]}
    assert keys == {"ozbekiston tarixi 2 jild"}


def test_hyphenated_word_gives_a_key_of_several_tokens() -> None:
    assert query_keys("Toshkent-shahar") == ("toshkent shahar",)
    assert query_keys("Тошкент-шаҳар")[0] == "toshkent shahar"


def test_digits_stay_and_punctuation_separates() -> None:
    assert record_key("Tom 2: 1941–1945 (qayta nashr).", "uzb") == "tom 2 1941 1945 qayta nashr"
    assert record_key("٣ ١٢", None) == "3 12"  # Arabic-Indic digits


def test_every_token_is_lowercase_ascii() -> None:
    text = "Ўзбекистон Azərbaycan Қарақалпақстан Достоевский İstanbul 北京 مكتبة Ελλάδα"
    for language in ["uzb", "aze", "kaa", "rus", None]:
        key = record_key(text, language)
        assert key, language
        for token in key.split(" "):
            assert token.isascii() and token.isalnum() and token == token.lower()


# --- Hostile input ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\t\n", "!!!", "— « » …", "'’ʻ`", "😀🎉", "\x00\x1f"])
def test_nothing_to_search_gives_an_empty_key(text: str) -> None:
    assert record_key(text, "uzb") == ""
    assert record_key(text, None) == ""
    assert query_keys(text) == ()


@pytest.mark.parametrize("text", ["a\ud800b", "\udfff", "кутуб\udc80хона", "x\x00y"])
def test_lone_surrogates_and_control_characters_do_not_crash(text: str) -> None:
    for language in ["uzb", "aze", "kaa", "rus", None]:
        key = record_key(text, language)
        assert all(token.isascii() and token.isalnum() for token in key.split())
    assert isinstance(query_keys(text), tuple)


def test_other_scripts_are_romanized() -> None:
    assert record_key("北京", None) == "bei jing"
    assert record_key("مكتبة", None) != ""
    assert record_key("Ελλάδα", None) == "ellada"


def test_long_text_is_quick() -> None:
    text = "Ўзбекистон kutubxona Достоевский Azərbaycan! " * 230  # ~10,000 characters
    started = time.perf_counter()
    key = record_key(text, "rus")
    assert time.perf_counter() - started < 2.0
    assert key.split()[:4] == ["ozbekiston", "kutubxona", "dostoevskiy", "azerbaycan"]


def test_keys_are_the_same_from_many_threads() -> None:
    words = ["Ўзбекистон", "Достоевский", "Азәрбајҹан", "ўақыт"] * 25
    expected = [query_keys(word) for word in words]
    results: list[list[tuple[str, ...]]] = []

    def work() -> None:
        results.append([query_keys(word) for word in words])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


# --- word by word ----------------------------------------------------------------------


@pytest.mark.parametrize("language", [None, "uzb", "aze", "kaa", "rus"])
@pytest.mark.parametrize(
    "text",
    [
        "Ўзбекистон Республикаси Фанлар академияси, Тошкент: Фан, 2019.",
        "Азәрбајҹан Милли Елмләр Академијасы ерməni еl ел",
        "Қарақалпақстан Республикасы ўақыт, ҳүжжет, ел, елли",
        "Достоевский Ф. М. Братья Карамазовы : роман в 4 ч. — Москва, 1880 объект Ёлкин",
        "Oʻzbekiston  O'ZBEKISTON\tO‘zbekiston — Bakı, İstanbul; 北京大学 جامعة  café",
    ],
)
def test_keys_made_word_by_word_are_those_of_the_whole_text(
    text: str, language: str | None
) -> None:
    """record_key transliterates (and remembers) word by word: no rule may look across
    white space, or a key would depend on the word's neighbours."""
    orth = keys.orthography(language)
    whole = keys._transliterator(orth).transliterate(text)
    expected = " ".join(keys._fold_token(t) for t in keys._TOKEN.findall(whole))
    assert record_key(text, language) == expected
