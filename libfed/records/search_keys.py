"""Script-insensitive search keys for the union catalogue.

Why: the same book is catalogued by one library in Uzbek Cyrillic (``кутубхона``) and by
another in Uzbek Latin (``kutubxona``); Azerbaijani and Karakalpak have the same split,
and Russian names reach users in several romanizations (Dostoevsky, Dostoevskii, ...).
A reader types one spelling and expects all of them. So both the indexed text of a
record and the words of a query are reduced to one *key* form (lowercase ASCII tokens)
and matched on that form: the spellings meet in the key.

How (docs/search.md, "Script-insensitive matching", has the rules as a table):

1. Cyrillic to Latin by the language's own orthography, with the CLDR transforms that
   ICU ships (``uz_Cyrl-uz_Latn``, ``az_Cyrl-az/BGN``, ``Russian-Latin/BGN``) and, for
   every other script, ``Any-Latin``. Karakalpak has no ICU transform: four hand rules
   give its Latin letters and the Uzbek transform does the rest.
2. One Latin folding, the same for every language and for queries: lowercase, apostrophes
   and hard/soft sign marks dropped, ``ə``→e, dotless ``ı``→i, ``ş``→sh, ``ç``→ch, then
   diacritics removed and ``Latin-ASCII``.
3. Three small folds that ICU has no transform for (see ``_fold_token``): kh→x, zh→j,
   and the spellings of Russian ``е`` after a vowel and of the ``-ий``/``-ый`` endings.

A record's language is known (MARC 008/35-37, 041), so its text gets one key. A query
word's language is not: a Cyrillic query word gets one key per Cyrillic orthography,
and matches when any of them equals the record's key.

Beside that *exact* key each text has a *folded* key for words typed on a keyboard that
lacks the region's letters (``folded=True``): Latin ş→s and ç→c instead of sh, ch, and
Cyrillic letters a Russian keyboard lacks read as the ones typed for them (һ ҳ→х, ҹ→ч,
ҝ қ→к, ғ→г, ү ў→у, ө→о, ә э→е, ј→й, ң→н) before step 1. ``indexed_key`` writes both into
the index, each folded token marked with FOLDED in front ("shirvan 0sirvan" for Şirvan),
so that a search can tell a record written Sirvan (an exact match of `sirvan`) from one
written Şirvan (a folded match) and rank the exact one first.
"""

# This module is about Cyrillic letters that look Latin (е, х, ј) and about apostrophes:
# ruff's confusable-character checks would flag exactly the characters it must name.
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

import icu

__all__ = [
    "FOLDED",
    "LANGUAGES",
    "ORTHOGRAPHIES",
    "indexed_key",
    "orthography",
    "query_keys",
    "record_key",
]

# Catalogue language codes (MARC / ISO 639-2 and ISO 639-1, lowercase) to the
# orthography whose Cyrillic→Latin rules build the key. None: no Cyrillic orthography of
# its own (Turkish is Latin only; its İ/ı are handled by the shared folding), so the
# default chain (Uzbek first) is used for any Cyrillic in it. Tags such as "uz-Cyrl",
# "az_Latn" or "kaa-Cyrl-UZ" are looked up by their first subtag, see orthography().
LANGUAGES: Mapping[str, str | None] = MappingProxyType(
    {
        "uzb": "uz",
        "uz": "uz",
        "aze": "az",
        "az": "az",
        "kaa": "kaa",  # Karakalpak has no ISO 639-1 code
        "rus": "ru",
        "ru": "ru",
        "tur": None,
        "tr": None,
    }
)

# The mark of a folded token in the index. A digit: tokens are [a-z0-9]+ for both
# engines' tokenizers, and no folded key starts with one (digits are never folded, so a
# word whose folded key differs has a letter; "0" before it makes a token no text has).
FOLDED = "0"

# Orthographies a Cyrillic query word is read in, in this order.
ORTHOGRAPHIES: tuple[str, ...] = ("uz", "az", "kaa", "ru")

# Apostrophes and the marks transliterations use for ъ/ь and the Uzbek tutuq belgisi
# (ʼ) and oʻ/gʻ (ʻ), as typed and as ICU writes them. Dropped inside a word so that
# Oʻzbekiston, O'zbekiston, O‘zbekiston, O’zbekiston, O`zbekiston, Ozbekiston meet.
_APOSTROPHES = "'`´‘’‛′″ʹʺʻʼʽʾʿˊˋ\""
_APOSTROPHE_SET = "[" + "".join(f"\\u{ord(c):04X}" for c in _APOSTROPHES) + "]"

# Step 1, per orthography. Each chain ends with the other Cyrillic transforms so that a
# letter the first one leaves (щ in Uzbek text, ә in Russian text) is still converted.
_UZ = "::uz_Cyrl-uz_Latn; ::az_Cyrl-az/BGN; ::Russian-Latin/BGN;"
_CYRILLIC_TO_LATIN: dict[str | None, str] = {
    # Uzbek: CLDR's official Uzbek Latin (х→x ж→j ў→oʻ ғ→gʻ қ→q ҳ→h ё→yo, е→ye initially).
    # Also the default for unknown or other languages: most Cyrillic here is Uzbek.
    None: _UZ,
    "uz": _UZ,
    # Azerbaijani: BGN's rules for Azerbaijani Cyrillic give the official Latin
    # (ә→ə ј→y ҹ→c ҝ→g г→q ғ→ğ ы→ı һ→h ш→ş ч→ç).
    "az": "::az_Cyrl-az/BGN; ::uz_Cyrl-uz_Latn; ::Russian-Latin/BGN;",
    # Karakalpak: ICU has no transform (checked against ICU 77's 758 IDs). The 2016
    # Latin alphabet agrees with Uzbek Latin for қ ғ ҳ х ж ш ч й ю я ё and with the
    # Azerbaijani rules for ө ү ы; these four letters differ from both, so they are
    # written here: ә→á (Uzbek has no ә, Azerbaijani gives ə), ў→w (Uzbek gives oʻ),
    # ц→c, and е→e without the Uzbek word-initial ye (Karakalpak Latin "el" for ел).
    "kaa": "ә > á; Ә > Á; ў > w; Ў > W; ц > c; Ц > C; е > e; Е > E;" + _UZ,
    # Russian: BGN (х→kh ж→zh щ→shch й→y ы→y). Before it, ё→е because Russian print
    # mostly writes е for ё and readers type Khrushchev, Gorbachev; and ъ ь are dropped
    # because LC and ISO romanizations write ʺ ʹ (dropped later anyway) without BGN's
    # extra y: объект is LC obʺekt, BGN obʺyekt.
    "ru": "ё > е; Ё > Е; [ъьЪЬ] > ; ::Russian-Latin/BGN; ::az_Cyrl-az/BGN; ::uz_Cyrl-uz_Latn;",
}

# The folded key's step 0: each Cyrillic letter a Russian keyboard lacks becomes the
# letter people type for it (Ширваншахлар for Ширваншаһлар, Алиев for Әлиев, Кенче for
# Ҝәнҹә), before the orthography reads it. Record and query are read alike, so the
# Azerbaijani reading of г as q (and of ч as ç) is the same on both sides.
_CYRILLIC_STAND_INS = """
[һҳ] > х; [ҺҲ] > Х;
ҹ > ч; Ҹ > Ч;
[ҝқ] > к; [ҜҚ] > К;
ғ > г; Ғ > Г;
[үўұ] > у; [ҮЎҰ] > У;
ө > о; Ө > О;
[әэ] > е; [ӘЭ] > Е;
ј > й; Ј > Й;
ң > н; Ң > Н;
"""

# Step 2, shared: everything to lowercase ASCII letters and digits (and spaces or
# punctuation, which only separate tokens). {sh}, {ch}: ş and ç are sh, ch in the exact
# key (where they meet Uzbek and Russian spellings) and s, c in the folded one (where
# they meet an English keyboard's Sirvan, Kitabxanaciliq).
_FOLD = """
::Any-Latin;
::NFC;
::Any-Lower;
{apostrophes} > ;
ə > e;
ı > i;
ş > {sh};
ç > {ch};
ĭ > y;
::NFD;
::[:Mn:] Remove;
::NFC;
::Latin-ASCII;
"""


def _rules(orth: str | None, folded: bool) -> str:
    # Apostrophes are dropped before NFKC too: NFKC turns ´ into a space and a combining
    # accent, which would split O´zbekiston into two tokens.
    stand_ins = f"{_CYRILLIC_STAND_INS} ::Null;" if folded else ""
    fold = _FOLD.format(
        apostrophes=_APOSTROPHE_SET, sh="s" if folded else "sh", ch="c" if folded else "ch"
    )
    return f"{_APOSTROPHE_SET} > ; ::NFKC; {stand_ins} {_CYRILLIC_TO_LATIN[orth]} {fold}"


# Thread safety: ICU does not document Transliterator::transliterate() as thread-safe
# (its rule-based steps take a process-wide mutex inside, an implementation detail), and
# PyICU lets two threads into ICU at once. So each thread builds its own transliterators
# on first use and never shares them. Measured (ICU 77, this 2-core machine): building all
# five takes ~27 ms in the first thread (ICU loads its data) and ~8 ms in each later one;
# a call then costs ~85 µs for a 50-character title, ~25 µs for a Latin query word,
# ~95 µs for a Cyrillic one (four readings), ~1.6 ms per 1,000 characters of text.
_local = threading.local()


def _transliterator(orth: str | None, folded: bool = False) -> icu.Transliterator:
    cache: dict[tuple[str | None, bool], icu.Transliterator] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    trans = cache.get((orth, folded))
    if trans is None:
        name = f"libfed-search-{orth or 'default'}{'-folded' if folded else ''}"
        trans = icu.Transliterator.createFromRules(
            name, _rules(orth, folded), icu.UTransDirection.FORWARD
        )
        cache[orth, folded] = trans
    return trans


_TOKEN = re.compile(r"[a-z0-9]+")
_CYRILLIC = re.compile(r"[\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]")
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")
# Step 3 patterns, on one token (see _fold_token).
_VOWEL_YE = re.compile(r"(?<=[aeiou])ye")
_RUSSIAN_ENDING = re.compile(r"(?<=[b-df-hj-np-tv-xz])(?:iy|ii|ij|yy|yi|yj|y)$")


def _fold_token(token: str) -> str:
    """Step 3: folds for romanization habits that no ICU transform covers.

    Each applies to queries and records alike, in every language, so each was checked
    against Uzbek, Azerbaijani and Turkish words it could merge (docs/search.md).
    """
    # Russian х and ж: BGN, LC and English write kh, zh; Uzbek, Azerbaijani and
    # Karakalpak Latin write x, j (Khorazm = Xorazm, Zhukov = Jukov). Turkic Latin has
    # no native kh or zh, so nothing of theirs merges.
    token = token.replace("kh", "x").replace("zh", "j")
    # Russian е after a vowel: BGN and Uzbek Latin write ye (Dostoyevskiy), LC, ISO 9
    # and English e (Dostoevsky). Turkic words rarely have a vowel before ye/e.
    token = _VOWEL_YE.sub("e", token)
    # Russian я and ю in ALA-LC romanization, which library records use (Bratʹi͡a,
    # Rossii͡a): i͡a and i͡u lose their tie with the other marks and become ia, iu,
    # where BGN and Uzbek Latin write ya, yu (Brat'ya, Rossiya). ALA-LC's й, ĭ, became y
    # in step 2. Turkic Latin writes ya, yu natively, so its words only lose a rare ia.
    token = token.replace("ia", "ya").replace("iu", "yu")
    # Russian -ий/-ый after a consonant: BGN -iy/-yy, LC -ii, ISO 9 -ij/-yj, English -y.
    # All become -iy. A plain -i stays, so Uzbek tarixi (its history) and tarixiy
    # (historical) stay apart.
    return _RUSSIAN_ENDING.sub("iy", token)


def _clean(text: str) -> str:
    """Text that ICU can take: lone surrogates (possible in a str decoded from JSON)
    become U+FFFD, and non-ASCII decimal digits (Arabic-Indic ٣) become ASCII ones."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), text)


def orthography(language: str | None) -> str | None:
    """The key orthography ("uz", "az", "kaa", "ru") for a catalogue language code,
    or None for other or unknown languages (the default chain then applies).

    Accepts MARC / ISO 639-2 and ISO 639-1 codes in any case, and BCP 47 style tags
    ("uz-Cyrl", "az_Latn", "kaa-Cyrl-UZ") by their language subtag: the script subtag
    does not matter, since Latin text passes the Cyrillic rules unchanged.
    """
    if not language:
        return None
    code = language.strip().lower().replace("_", "-")
    if code in LANGUAGES:
        return LANGUAGES[code]
    return LANGUAGES.get(code.split("-", 1)[0])


def _key(text: str, orth: str | None, folded: bool = False) -> str:
    """Word by word: no rule of the chain looks across white space (a word's start is a
    start either way), and a catalogue repeats its words, so most are already known.
    Transliterating costs ~1.6 µs a character; a known word, a dictionary lookup."""
    return " ".join(key for word in text.split() if (key := _word_key(word, orth, folded)))


@lru_cache(maxsize=1 << 16)  # some 6 MB; a catalogue's common words stay in it
def _word_key(word: str, orth: str | None, folded: bool = False) -> str:
    latin = _transliterator(orth, folded).transliterate(_clean(word))
    return " ".join(_fold_token(token) for token in _TOKEN.findall(latin))


def record_key(text: str, language: str | None, folded: bool = False) -> str:
    """The key of a record's indexed text, read in the orthography of its language.

    Space-separated lowercase ASCII tokens ([a-z0-9]+), "" when the text has no letter
    or digit. Punctuation separates tokens; apostrophes inside a word do not. Never
    raises for a str (empty, control characters, lone surrogates, any script).
    """
    return _key(text, orthography(language), folded)


def indexed_key(text: str, language: str | None) -> str:
    """What the index holds of a record's text: its exact key, and after each word whose
    folded key differs, that folded key too, each token marked (Şirvan: "shirvan 0sirvan").
    Word by word, so a folded query word that punctuation splits (Şəki-Zaqatala) still
    finds its tokens consecutive."""
    orth = orthography(language)
    keys = []
    for word in text.split():
        exact = _word_key(word, orth)
        if exact:
            keys.append(exact)
            folded = _word_key(word, orth, True)
            if folded and folded != exact:
                keys.append(" ".join(FOLDED + token for token in folded.split()))
    return " ".join(keys)


def query_keys(word: str, folded: bool = False) -> tuple[str, ...]:
    """The distinct keys one query word may have, the first being the default reading.

    The language of a query is unknown, so a word with Cyrillic letters is read in
    each Cyrillic orthography ("ўақыт" is Uzbek oʻaqit or Karakalpak waqıt); a Latin
    word has one key. A word that punctuation splits ("Toshkent-shahar") gives keys of
    several tokens ("toshkent shahar"): match such a key as a phrase, its tokens
    consecutive in the record's key. An empty tuple when the word has no letter or digit.
    With `folded`, the word's folded keys, which meet the folded keys indexed_key adds.
    """
    if _CYRILLIC.search(word):
        readings = [_key(word, orth, folded) for orth in ORTHOGRAPHIES]
    else:
        readings = [_key(word, None, folded)]
    keys = dict.fromkeys(readings)
    for key in readings:
        keys.update(dict.fromkeys(_initial_e_variants(key)))
    return tuple(key for key in keys if key)


_INITIAL_E_FROM = 4  # letters: ye/e are distinct short words in Uzbek (yer earth, er man)


def _initial_e_variants(key: str) -> tuple[str, ...]:
    """Russian е at the start of a word: BGN and Uzbek Latin write ye (Yevgeniy, Yelena),
    LC and English e (Evgenii, Elena). Indexed text keeps its own spelling (folding it
    would merge Uzbek yer and er), so a longer query word looks for both."""
    if len(key) < _INITIAL_E_FROM or " " in key:
        return ()
    if key.startswith("ye"):
        return (key[1:],)
    if key.startswith("e"):
        return ("y" + key,)
    return ()
