"""Turning what a provider sent into an OAI-PMH tree, or a reason it is not one.

Parse strictly first. If that fails, clean what providers typically get wrong
(bytes that are not UTF-8, characters XML 1.0 forbids, unescaped ampersands) and
parse again; a page is
not given up for one bad character. An HTML page served with status 200 and
anything else that is no OAI-PMH document is refused with a reason the run log
can show. A response whose namespaces were stripped gets the OAI namespace back
on its envelope, so that the rest of the harvester reads it like any other; the
metadata inside is left as it came.
"""

from __future__ import annotations

import re

from lxml import etree

from libfed.xmltext import strip_illegal

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._\-]+)[\"'][^>]*\?>")
# An & that starts no entity or character reference: providers send them unescaped.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.\-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
# Containers whose content belongs to another schema: never renamespaced.
_FOREIGN = frozenset({"metadata", "about", "description", "setDescription"})


class NotOAIResponse(Exception):
    """The body is not an OAI-PMH response; the message says what it is instead."""


def _cleaned(body: bytes) -> str:
    match = _DECLARATION.match(body)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    text = text.removeprefix("\ufeff")
    # The declaration names an encoding the text no longer has: drop it.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    return _BARE_AMPERSAND.sub("&amp;", strip_illegal(text))


def _restore_namespace(element: etree._Element) -> None:
    """Put the un-namespaced OAI envelope back into the OAI namespace (in place)."""
    if isinstance(element.tag, str) and not element.tag.startswith("{"):
        element.tag = f"{{{OAI_NS}}}{element.tag}"
    if etree.QName(element).localname in _FOREIGN:
        return
    for child in element:
        _restore_namespace(child)


def _html_title(body: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:65536], re.I | re.S)
    return match.group(1).decode("utf-8", "replace").strip()[:120] if match else ""


def parse_response(body: bytes) -> etree._Element:
    """The root <OAI-PMH> element of a response, in the OAI namespace."""
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise NotOAIResponse(f"an HTML page, not OAI-PMH: {_html_title(body)!r}")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        try:
            root = etree.fromstring(_cleaned(body), _PARSER)
        except etree.XMLSyntaxError as error:
            start = body[:80].decode("utf-8", "replace").strip()
            raise NotOAIResponse(f"not well-formed XML ({error.msg}); begins {start!r}") from None
    if root is None:
        raise NotOAIResponse("an empty document")
    name = etree.QName(root)
    if name.localname.lower() == "html":
        raise NotOAIResponse(f"an HTML page, not OAI-PMH: {_html_title(body)!r}")
    if name.localname != "OAI-PMH":
        raise NotOAIResponse(f"a <{name.localname}> document, not OAI-PMH")
    if name.namespace is None:
        _restore_namespace(root)
    elif name.namespace != OAI_NS:
        raise NotOAIResponse(f"OAI-PMH in the wrong namespace {name.namespace!r}")
    return root
