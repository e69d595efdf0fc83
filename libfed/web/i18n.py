"""Languages of the pages: which one a request gets, and translating service messages.

One catalogue (`libfed/translations`) holds every package's strings. English is the
source language; Azerbaijani, Russian and Uzbek in both its scripts (Latin and Cyrillic)
are translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, g, session
from flask import request as flask_request
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext, lazy_gettext

from libfed.kernel.config import WebConfig
from libfed.kernel.errors import Codes, Message
from libfed.kernel.services import services

# Locale id (as Babel and the catalogue directories name it) -> the language's own name.
LANGUAGES = {
    "az": "Azərbaycanca",
    "ru": "Русский",
    "uz_Latn": "Oʻzbekcha",
    "uz_Cyrl": "Ўзбекча",
    "en": "English",
}
# Codes of the data model (states, field names, kinds of object) as the pages say them
# when a refusal names them (errors.Codes); each domain adds its own (`label_codes`).
_CODE_LABELS: dict[str, Any] = {
    "institution": lazy_gettext("institution"),
    "user": lazy_gettext("user"),
}


def label_codes(labels: Mapping[str, Any]) -> None:
    _CODE_LABELS.update(labels)


def field_label(name: str) -> str | None:
    """A field's name as the pages say it ('end_date' -> 'End date'), for a refusal shown
    away from its field (the list above a form, a message at the top of the page), where
    the message alone ("required") would not say which field; None for a name no domain
    labels, so that a code word never reaches the page."""
    label = _CODE_LABELS.get(name.rsplit(".", 1)[-1])
    if label is None:
        return None
    text = str(label)
    return text[:1].upper() + text[1:]


def named_refusals(errors: Mapping[str, str], labels: Mapping[str, str] | None = None) -> str:
    """Refusals as one message: each after its field's name (the form's own label when the
    caller gives it, else the field's registered label)."""
    named = []
    for name, message in errors.items():
        label = (labels or {}).get(name) or field_label(name)
        named.append(f"{label}: {message}" if label else str(message))
    return " ".join(named)


TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def html_lang(locale_id: str) -> str:
    """BCP 47 for the `lang` attribute: uz_Latn -> uz-Latn."""
    return locale_id.replace("_", "-")


def language_names() -> dict[str, str]:
    """The pages' languages named in the page's language (CLDR: "узбекский (кириллица)" on
    a Russian page), for choosing another's language, such as a partner's letters: the
    menu's own names (Oʻzbekcha, Ўзбекча) are for the reader choosing their own."""
    page = str(get_locale() or "en")
    names = {
        code: Locale.parse(code).get_display_name(page) or name for code, name in LANGUAGES.items()
    }
    if page == "uz_Latn":  # CLDR writes oʻ with U+2018; Uzbek Latin's letter is U+02BB
        names = {code: name.replace("\u2018", "\u02bb") for code, name in names.items()}
    return names


def language_for_tag(tag: str) -> str | None:
    """Our language for a browser's language tag, or None. Uzbek is written in two
    scripts: a tag naming Cyrillic ('uz-Cyrl', 'uz-Cyrl-UZ') gets Uzbek Cyrillic, any
    other Uzbek ('uz', 'uz-UZ', 'uz-Latn') the Latin script, which is the official one.
    Other languages match by their primary subtag ('ru-RU' -> 'ru')."""
    subtags = tag.lower().replace("_", "-").split("-")
    if subtags[0] == "uz":
        return "uz_Cyrl" if "cyrl" in subtags[1:] else "uz_Latn"
    return subtags[0] if subtags[0] in LANGUAGES else None


def _chosen() -> str:
    """The user's choice (kept in the session, copied from their account at sign-in),
    else the browser's most preferred language among ours, else the configured default."""
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return chosen
    # Werkzeug keeps the Accept-Language values most preferred first.
    for tag, quality in flask_request.accept_languages:
        if quality > 0 and (language := language_for_tag(tag)):
            return language
    return services().config.web.default_language


def current_language() -> str:
    if "language" not in g:
        g.language = _chosen()
    return g.language


def _value(value: Any) -> Any:
    if isinstance(value, Message):
        return translate(value)
    if isinstance(value, datetime):  # stored in UTC: shown in the configured zone
        return format_datetime(value, "medium")
    if isinstance(value, date):
        return format_date(value, "medium")
    if isinstance(value, Codes):
        return ", ".join(str(_CODE_LABELS.get(code, code)) for code in value.codes)
    return value


def translate(message: Any) -> str:
    """A service's Message in the page's language; other text as it is."""
    if isinstance(message, Message):
        values = {name: _value(value) for name, value in message.values.items()}
        return gettext(message.template).format(**values)
    return str(message)


def install_i18n(app: Flask, config: WebConfig) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_TIMEZONE"] = config.timezone
    Babel(app, locale_selector=current_language)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        current_language=current_language,
        field_label=field_label,
        html_lang=html_lang,
        translate=translate,
    )
