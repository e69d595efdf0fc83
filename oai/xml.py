"""The XML of responses, written as strings around metadata stored pre-rendered.

Building an lxml tree per response would re-parse every stored record on every
page; string assembly with strict escaping keeps a page a copy of stored bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from libfed.records.crosswalk import DC_NAMESPACE
from libfed.records.formats import OAI_DC, MetadataFormat
from libfed.records.xmltext import escape_text, safe_attribute, safe_text

from .dates import format_utc

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ROOT = (
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    f'xmlns:xsi="{_XSI}" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
    'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
)


def envelope(
    base_url: str,
    response_date: datetime,
    arguments: Mapping[str, str] | None,
    body: Iterable[str | bytes],
    stylesheet: str,
) -> bytes:
    """The OAI-PMH document, UTF-8; `arguments` None writes a <request> without attributes.

    The body mixes text built per response and bytes stored pre-rendered. `stylesheet`
    is the URL of the XSLT that browsers show the document through (a processing
    instruction before the root, which the OAI-PMH schema and harvesters ignore).
    """
    attributes = "".join(
        f' {name}="{safe_attribute(value)}"' for name, value in (arguments or {}).items()
    )
    head = (
        f'{_DECLARATION}<?xml-stylesheet type="text/xsl" href="{safe_attribute(stylesheet)}"?>\n'
        f"{_ROOT}<responseDate>{format_utc(response_date)}</responseDate>"
        f"<request{attributes}>{escape_text(base_url)}</request>"
    )
    parts = [head, *body, "</OAI-PMH>\n"]
    return b"".join(p if isinstance(p, bytes) else p.encode("utf-8") for p in parts)


def errors(items: Iterable[tuple[str, str]]) -> Iterator[str]:
    for code, message in items:
        yield f'<error code="{code}">{safe_text(message)}</error>'


def resumption_token(token: str | None, total: int, cursor: int, expires: datetime | None) -> str:
    """A token element; an empty one (token None) closes a list of several pages."""
    attributes = f' completeListSize="{total}" cursor="{cursor}"'
    if token is None:
        return f"<resumptionToken{attributes}/>"
    return (
        f'<resumptionToken expirationDate="{format_utc(expires)}"{attributes}>'  # type: ignore[arg-type]
        f"{escape_text(token)}</resumptionToken>"
    )


def identify(
    name: str,
    base_url: str,
    admin_emails: Iterable[str],
    earliest: datetime,
    repository_identifier: str,
    sample_identifier: str,
    friends: Iterable[str] = (),
) -> str:
    emails = "".join(f"<adminEmail>{escape_text(e)}</adminEmail>" for e in admin_emails)
    return (
        f"<Identify><repositoryName>{escape_text(name)}</repositoryName>"
        f"<baseURL>{escape_text(base_url)}</baseURL>"
        "<protocolVersion>2.0</protocolVersion>"
        f"{emails}<earliestDatestamp>{format_utc(earliest)}</earliestDatestamp>"
        "<deletedRecord>persistent</deletedRecord>"
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
        "<compression>gzip</compression><compression>deflate</compression>"
        "<description>"
        '<oai-identifier xmlns="http://www.openarchives.org/OAI/2.0/oai-identifier" '
        f'xmlns:xsi="{_XSI}" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai-identifier '
        'http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
        f"<scheme>oai</scheme><repositoryIdentifier>{escape_text(repository_identifier)}"
        "</repositoryIdentifier><delimiter>:</delimiter>"
        f"<sampleIdentifier>{escape_text(sample_identifier)}</sampleIdentifier>"
        "</oai-identifier></description>"
        f"{_friends(friends)}</Identify>"
    )


def _friends(base_urls: Iterable[str]) -> str:
    urls = "".join(f"<baseURL>{escape_text(url)}</baseURL>" for url in base_urls)
    if not urls:
        return ""
    return (
        '<description><friends xmlns="http://www.openarchives.org/OAI/2.0/friends/" '
        f'xmlns:xsi="{_XSI}" xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/friends/ '
        f'http://www.openarchives.org/OAI/2.0/friends.xsd">{urls}</friends></description>'
    )


def metadata_formats(formats: Iterable[MetadataFormat]) -> str:
    items = "".join(
        f"<metadataFormat><metadataPrefix>{f.prefix}</metadataPrefix>"
        f"<schema>{escape_text(f.schema)}</schema>"
        f"<metadataNamespace>{escape_text(f.namespace)}</metadataNamespace></metadataFormat>"
        for f in formats
    )
    return f"<ListMetadataFormats>{items}</ListMetadataFormats>"


def set_entry(spec: str, name: str, description: str | None) -> str:
    described = ""
    if description:
        described = (
            f'<setDescription><oai_dc:dc xmlns:oai_dc="{OAI_DC.namespace}" '
            f'xmlns:dc="{DC_NAMESPACE}" xmlns:xsi="{_XSI}" '
            f'xsi:schemaLocation="{OAI_DC.namespace} {OAI_DC.schema}">'
            f"<dc:description>{safe_text(description)}</dc:description>"
            "</oai_dc:dc></setDescription>"
        )
    return (
        f"<set><setSpec>{escape_text(spec)}</setSpec><setName>{safe_text(name)}</setName>"
        f"{described}</set>"
    )
