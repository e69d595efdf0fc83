"""What a record's page tells machines that read landing pages rather than OAI-PMH:
Highwire Press `citation_*` meta tags (Google Scholar, Zotero) and schema.org JSON-LD
(search engines, WorldCat's gateway).

Both are read from the same `RecordView` the page shows, so they say nothing the page
does not; a value the record lacks is left out, never guessed. The JSON-LD sits inside a
<script>, where HTML escaping does not apply: a harvested title may hold `</script>`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from flask import request, url_for

from libfed.kernel.services import services
from libfed.web.formatting import lang_tag

if TYPE_CHECKING:  # the page's module calls this one
    from .record_page import RecordView

# A day (1999-05-03), a month (1999-05) or a year as Dublin Core dates usually come.
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
# What the crosswalk calls a book-like resource (MARC leader 06 a/t), not a part of a
# collection nor a manuscript, which schema.org's Book does not describe.
_NOT_BOOKS = {"collection", "manuscript"}


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute address on this server as partners and crawlers reach it, not as the
    proxy in front of us named the host; the mount point is the public root's part."""
    path = url_for(endpoint, **values)
    return services().config.public_base_url + path.removeprefix(request.script_root)


def _dates(record: RecordView) -> tuple[str, str] | None:
    """The publication date as Highwire writes it (2019/05/03 or 2019) and as ISO 8601."""
    for text in record.dc.get("date", []):
        found = _ISO_DATE.fullmatch(text.strip())
        if found:
            parts = [part for part in found.groups() if part]
            return "/".join(parts), "-".join(parts)
        year = _YEAR.search(text)
        if year:
            return year.group(1), year.group(1)
    return None


def _language(record: RecordView) -> str | None:
    """A BCP 47 tag ('ru') for the record's language, as both vocabularies want."""
    return lang_tag(record.language)


def citation_tags(record: RecordView, url: str) -> list[tuple[str, str]]:
    """The Highwire meta tags as (name, content), repeated names in record order."""
    dc = record.dc
    tags: list[tuple[str, str]] = []
    if record.title:
        tags.append(("citation_title", record.title))
    tags += [("citation_author", name) for name in dc.get("creator", [])]
    dates = _dates(record)
    if dates:
        tags.append(("citation_publication_date", dates[0]))
    tags += [("citation_publisher", name) for name in dc.get("publisher", [])[:1]]
    tags += [("citation_isbn", number) for number in record.isbns]
    tags += [("citation_issn", number) for number in record.issns]
    language = _language(record)
    if language:
        tags.append(("citation_language", language))
    if dc.get("subject"):
        tags.append(("citation_keywords", "; ".join(dc["subject"])))
    tags.append(("citation_abstract_html_url", url))
    return tags


def _is_book(record: RecordView) -> bool:
    kinds = set(record.dc.get("type", []))
    return bool(record.isbns) or ("text" in kinds and not kinds & _NOT_BOOKS)


def json_ld(record: RecordView, url: str) -> dict[str, Any]:
    """The schema.org description: a Book, or a CreativeWork when the record is no book;
    for a harvested record, the holding institution it is based on."""
    dc = record.dc
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Book" if _is_book(record) else "CreativeWork",
        "@id": url,
        "url": url,
        "identifier": record.identifier,
    }
    if record.title:
        data["name"] = record.title
    if dc.get("creator"):
        data["author"] = [{"@type": "Person", "name": name} for name in dc["creator"]]
    dates = _dates(record)
    if dates:
        data["datePublished"] = dates[1]
    language = _language(record)
    if language:
        data["inLanguage"] = language
    if record.isbns:
        data["isbn"] = record.isbns if len(record.isbns) > 1 else record.isbns[0]
    if record.issns:
        data["issn"] = record.issns if len(record.issns) > 1 else record.issns[0]
    if dc.get("publisher"):
        data["publisher"] = {"@type": "Organization", "name": dc["publisher"][0]}
    if dc.get("subject"):
        data["keywords"] = dc["subject"]
    origin = record.provenance
    if origin is not None:
        holder = {"@type": "Organization", "name": origin.holder}
        data["provider"] = holder
        based_on: dict[str, Any] = {"@type": "CreativeWork", "provider": holder}
        if origin.identifier:
            based_on["identifier"] = origin.identifier
        if origin.base_url:
            based_on["url"] = origin.base_url
        data["isBasedOn"] = based_on
    return data


def script_json(data: dict[str, Any]) -> str:
    """JSON safe inside <script>: no `</` can end the element, no `<!--` open a comment
    that swallows it (`<` is written as \\u003c, which JSON reads back the same)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
