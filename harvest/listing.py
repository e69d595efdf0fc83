"""A list request walked page by page, with the guards that real providers need.

The harvest loop (and its checkpoints) sees one page at a time: the records it
holds, the records that had to be quarantined, and the token to go on with. It
stops, with a reason, on what would otherwise run forever: a provider repeating
its token, pages of identifiers already harvested (archive.org and HAL do both),
too many empty pages, too many requests, or a run past its deadline.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from lxml import etree
from oaipmh import error as oai_errors

from .client import HarvestClient
from .parsing import OAI_NS, REFUSED, REPAIRS

_OAI = f"{{{OAI_NS}}}"


class HarvestStopped(Exception):
    """The list cannot be followed further; the message says why."""


@dataclass(frozen=True)
class Limits:
    max_requests: int = 100_000
    max_empty_pages: int = 5
    deadline_seconds: float = 24 * 3600


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class HarvestedRecord:
    """One record as the provider sent it."""

    identifier: str
    datestamp: str  # as sent, in the provider's granularity
    deleted: bool
    sets: tuple[str, ...]
    metadata: bytes | None  # the element inside <metadata>, serialised as received
    namespace: str | None  # that element's namespace (metadataNamespace)
    repairs: tuple[str, ...] = ()  # made to the page while parsing it (harvest.parsing)


@dataclass(frozen=True)
class Quarantined:
    raw: bytes
    reason: str
    # Set for a record the provider listed but would not serve (GetRecord failed): later
    # runs ask for it again by this identifier (harvest.isolation).
    identifier: str | None = None
    datestamp: str | None = None


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, within this walk
    url: str
    response_date: str
    records: list[HarvestedRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    token: str | None = None  # to resume after this page; None when the list is complete
    complete_list_size: int | None = None


# An OAI-PMH UTCdatetime, at either granularity (fractions of seconds are sent by some).
UTC_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z)?")
# Longer than any provider's (they are opaque but short), and what a URL can carry.
MAX_TOKEN = 4096
# Longer than any source's identifier; harvest.aggregate then checks that ours, which
# holds it percent-encoded, fits libfed.records.models.IDENTIFIER_LENGTH.
MAX_IDENTIFIER = 1000

_HEADER, _METADATA = f"{_OAI}header", f"{_OAI}metadata"
_IDENTIFIER, _DATESTAMP, _SET_SPEC = f"{_OAI}identifier", f"{_OAI}datestamp", f"{_OAI}setSpec"


def _read_header(header: etree._Element, refused: str | None) -> HarvestedRecord:
    """A <header>, as a record without metadata; ValueError saying what is wrong with it."""
    identifier = datestamp = ""
    sets = []
    for field_ in header:
        if field_.tag == _IDENTIFIER:
            identifier = (field_.text or "").strip()
        elif field_.tag == _DATESTAMP:
            datestamp = (field_.text or "").strip()
        elif field_.tag == _SET_SPEC and field_.text:
            sets.append(field_.text.strip())
    if not identifier:
        raise ValueError("header without an identifier")
    if len(identifier) > MAX_IDENTIFIER:
        raise ValueError(
            f"{identifier[:60]}…: an identifier longer than {MAX_IDENTIFIER} characters"
        )
    if refused:
        raise ValueError(f"{identifier}: {refused}")
    if not datestamp:
        raise ValueError(f"{identifier}: header without a datestamp")
    if not UTC_DATETIME.fullmatch(datestamp):
        raise ValueError(f"{identifier}: the datestamp {datestamp[:40]!r} is not a UTCdatetime")
    return HarvestedRecord(
        identifier=identifier,
        datestamp=datestamp,
        deleted=header.get("status") == "deleted",
        sets=tuple(sets),
        metadata=None,
        namespace=None,
    )


def read_record(element: etree._Element) -> HarvestedRecord:
    """One <record> of a page; ValueError saying what is wrong with it.

    One pass over the children (not a find() per field): this runs for every record.
    """
    header = metadata = None
    for child in element:
        if child.tag == _HEADER:
            header = child
        elif child.tag == _METADATA:
            metadata = child
    if header is None:
        raise ValueError("record without a header")
    headed = _read_header(header, element.get(REFUSED))
    identifier = headed.identifier
    content = None
    if metadata is not None:
        children = [child for child in metadata if isinstance(child.tag, str)]
        if len(children) != 1:
            raise ValueError(f"{identifier}: <metadata> holds {len(children)} elements, not one")
        content = children[0]
    if content is None and not headed.deleted:
        raise ValueError(f"{identifier}: a record that is not deleted has no metadata")
    return replace(
        headed,
        metadata=None if content is None else etree.tostring(content, encoding="utf-8"),
        namespace=None if content is None else etree.QName(content).namespace,
        repairs=tuple(element.get(REPAIRS, "").split("; ")) if element.get(REPAIRS) else (),
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _read_item(element: etree._Element) -> HarvestedRecord:
    """A <record>, or the <header> ListIdentifiers lists (a record without metadata)."""
    if element.tag == _HEADER:
        return _read_header(element, element.get(REFUSED))
    return read_record(element)


def read_page(number: int, url: str, root: etree._Element, verb: str = "ListRecords") -> Page:
    """The records of a ListRecords or GetRecord response, or the headers of a
    ListIdentifiers one; a broken record is quarantined, not the page."""
    records, quarantined = [], []
    item = "header" if verb == "ListIdentifiers" else "record"
    for element in root.iterfind(f"{_OAI}{verb}/{_OAI}{item}"):
        try:
            records.append(_read_item(element))
        except ValueError as error:
            quarantined.append(Quarantined(etree.tostring(element, encoding="utf-8"), str(error)))
    token_element = root.find(f"{_OAI}{verb}/{_OAI}resumptionToken")
    token = (token_element.text or "").strip() if token_element is not None else ""
    response_date = (root.findtext(f"{_OAI}responseDate") or "").strip()
    return Page(
        number=number,
        url=url,
        # Kept to become the next run's `from`: only if it is one.
        response_date=response_date if UTC_DATETIME.fullmatch(response_date) else "",
        records=records,
        quarantined=quarantined,
        token=token or None,
        complete_list_size=_int(
            token_element.get("completeListSize") if token_element is not None else None
        ),
    )


def walk(
    client: HarvestClient,
    arguments: dict[str, str],
    limits: Limits = DEFAULT_LIMITS,
    token: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    verb: str = "ListRecords",
    used: int = 0,
    prefetch: bool = True,
) -> Iterator[Page]:
    """The pages of `verb` (ListRecords, or ListIdentifiers: pages of headers) with
    `arguments` (or from `token`, to resume a walk); `used` list requests of the run
    were already made by earlier walks (date windows), and count against the limit.

    While the caller writes a page, the next one is already being fetched and
    parsed (the provider's time and ours overlap). noRecordsMatch is a list of no
    pages, not an error; other OAI and transport errors propagate; HarvestStopped
    says why a list was abandoned, after the last page that was read. Without
    `prefetch`, the next page is asked for only once the caller is done with this one:
    a caller that makes requests of its own per page (GetRecord) keeps to one request
    at a time to the provider.
    """
    deadline = clock() + limits.deadline_seconds
    seen_tokens: set[str] = set()
    # A digest per page, not every identifier: memory must not grow with the harvest.
    seen_pages: set[bytes] = set()
    empty_in_a_row = 0
    number = 0

    def fetch(request: dict[str, str]) -> tuple[etree._Element, str]:
        root = client.page(**request)
        return root, client.last.url if client.last else ""

    def refusal() -> HarvestStopped | None:
        """Why no further request may be made, if so."""
        if used + number >= limits.max_requests:
            return HarvestStopped(f"more than {limits.max_requests} requests in one run")
        if clock() > deadline:
            return HarvestStopped(f"the run passed its deadline of {limits.deadline_seconds:g} s")
        return None

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oai-prefetch")
    try:
        if stop := refusal():
            raise stop
        request = {"verb": verb, **({"resumptionToken": token} if token else arguments)}
        pending = pool.submit(fetch, request)
        while True:
            try:
                root, url = pending.result()
            except oai_errors.NoRecordsMatchError:
                return
            number += 1
            page = read_page(number, url, root, verb)
            if page.records:
                fingerprint = hashlib.blake2b(
                    "\0".join(sorted(r.identifier for r in page.records)).encode(),
                    digest_size=16,
                ).digest()
                if fingerprint in seen_pages:
                    raise HarvestStopped(
                        f"page {number} repeats the {len(page.records)} records of an earlier "
                        "page: a loop"
                    )
                seen_pages.add(fingerprint)
            empty_in_a_row = 0 if (page.records or page.quarantined) else empty_in_a_row + 1
            stop = None
            if page.token is not None and len(page.token) > MAX_TOKEN:
                stop = HarvestStopped(
                    f"the provider's resumptionToken is {len(page.token):,} characters long, "
                    f"more than the {MAX_TOKEN:,} a request may carry"
                )
                page = replace(page, token=None)  # its records are kept, not the token
            elif page.token is not None:
                if page.token in seen_tokens:
                    stop = HarvestStopped(
                        f"the provider sent the same resumptionToken again: {page.token!r}"
                    )
                elif empty_in_a_row > limits.max_empty_pages:
                    stop = HarvestStopped(f"{empty_in_a_row} empty pages in a row")
                else:
                    stop = refusal()
                if stop is None:
                    seen_tokens.add(page.token)
                    following = {"verb": verb, "resumptionToken": page.token}
                    if prefetch:
                        pending = pool.submit(fetch, following)
            yield page
            if stop is not None:
                raise stop
            if page.token is None:
                return
            if not prefetch:
                pending = pool.submit(fetch, following)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
