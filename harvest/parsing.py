"""Turning what a provider sent into an OAI-PMH tree, or a reason it is not one.

Parse strictly first. If that fails, clean what providers typically get wrong
(bytes that are not UTF-8, characters XML 1.0 forbids, as bytes or as character
references, unescaped ampersands) and parse again: a page is not given up for one
bad character. An HTML page served with status 200 and anything else that is no
OAI-PMH document is refused with a reason the run log can show, quoting no more
of it than a short excerpt. A response whose namespaces were stripped gets the OAI
namespace back on its envelope, so that the rest of the harvester reads it like any
other; the metadata inside is left as it came.

Entities are never resolved by the parser: external ones would read files or the
network, internal ones multiply (libxml2 also refuses amplification). An entity
reference left in the tree would be written out as `&name;`, which no harvester of
ours could parse, so each is replaced here by its text (internal, bounded) or
dropped (external). Every repair is noted on the <record> it touched, under
`REPAIRS`, so that its provenance says the record was altered, and a record that
cannot be repaired is marked `REFUSED`, to be quarantined alone.

Nothing here recurses on the document's depth: a page nested thousands deep is
walked with explicit stacks and lxml's own iterators.
"""

from __future__ import annotations

import codecs
import re
from html.entities import html5

from lxml import etree

from libfed.records.xmltext import ILLEGAL

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_OAI = f"{{{OAI_NS}}}"
# Depth past 256 (libxml2's default) is allowed so that one deep record is quarantined
# rather than its whole page refused; libxml2 still stops at 2048, without recursing.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._\-]+)[\"'][^>]*\?>")
# An & that starts no entity or character reference: providers send them unescaped.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.\-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_CHARACTER_REFERENCE = re.compile(r"&#(?:([0-9]{1,8})|x([0-9A-Fa-f]{1,7}));")
# Containers whose content belongs to another schema: never renamespaced.
_FOREIGN = frozenset({"metadata", "about", "description", "setDescription"})
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ENTITY_REFERENCE = re.compile(r"&([A-Za-z_][\w.\-]*);")
_DECLARED_ENTITY = re.compile(r"<!ENTITY\s+([A-Za-z_][\w.\-]*)\s")
_MAX_EXPANSION = 10_000  # characters one entity may stand for, nested ones included
_MAX_NESTING = 8

# Where a character was dropped while cleaning: found and removed again after parsing,
# so that the repair is noted on the record that held it. A private-use code point at
# the end of Unicode, which catalogue data does not use.
MARK = "\U0010fffd"
_INTAKE = "urn:libfed:intake"
REPAIRS = f"{{{_INTAKE}}}repairs"
REFUSED = f"{{{_INTAKE}}}refused"

codecs.register_error("libfed-mark", lambda error: ("\ufffd" + MARK, error.end))


class NotOAIResponse(Exception):
    """The body is not an OAI-PMH response; the message says what it is instead."""


def excerpt(body: bytes, length: int = 40) -> str:
    """The start of a body as a short quoted string with every control character
    escaped: all of a refused answer that the run log may show."""
    text = body[: length * 4].decode("utf-8", "replace").strip()
    return repr(text[:length] + ("…" if len(text) > length else ""))


def _legal_reference(match: re.Match[str]) -> str:
    number = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
    try:
        character = chr(number)
    except (ValueError, OverflowError):
        return MARK
    return match.group(0) if not ILLEGAL.match(character) else MARK


def _cleaned(body: bytes) -> str:
    match = _DECLARATION.match(body)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        text = body.decode(encoding, errors="libfed-mark")
    except LookupError:
        text = body.decode("utf-8", errors="libfed-mark")
    text = text.removeprefix("\ufeff")
    # The declaration names an encoding the text no longer has: drop it.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    text = ILLEGAL.sub(MARK, text)
    text = _CHARACTER_REFERENCE.sub(_legal_reference, text)
    subset = text[: text.find("]>") + 1] if "<!DOCTYPE" in text[:4096] else ""
    declared = set(_DECLARED_ENTITY.findall(subset))
    text = _ENTITY_REFERENCE.sub(lambda match: _undeclared(match, declared), text)
    return _BARE_AMPERSAND.sub("&amp;", text)


def _undeclared(match: re.Match[str], declared: set[str]) -> str:
    """An entity the page does not declare (HTML's &nbsp; and &eacute; are common), as the
    character HTML gives it, or else as the text it was written as."""
    name = match.group(1)
    if name in _PREDEFINED or name in declared:
        return match.group(0)
    character = html5.get(f"{name};")
    if character and not ILLEGAL.search(character):
        return "".join(f"&#{ord(c)};" for c in character) + MARK
    return f"&amp;{name};{MARK}"


def _restore_namespace(root: etree._Element) -> None:
    """Put the un-namespaced OAI envelope back into the OAI namespace (in place)."""
    stack = [root]
    while stack:
        element = stack.pop()
        if not element.tag.startswith("{"):
            element.tag = f"{_OAI}{element.tag}"
        if etree.QName(element).localname not in _FOREIGN:
            stack.extend(child for child in element if isinstance(child.tag, str))


def _html_title(body: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:65536], re.I | re.S)
    return excerpt(match.group(1)) if match else "''"


class _Entities:
    """The text of the internal entities a page declares, expanded on demand and bounded."""

    def __init__(self, root: etree._Element) -> None:
        dtd = root.getroottree().docinfo.internalDTD
        self.declared = {e.name: e.content for e in dtd.iterentities()} if dtd else {}
        self._expanded: dict[str, str] = {}

    def text(self, name: str, nesting: int = 0) -> str:
        """What `&name;` stands for; ValueError when it is external, undeclared, or too big."""
        if name in _PREDEFINED:
            return _PREDEFINED[name]
        if name in self._expanded:
            return self._expanded[name]
        content = self.declared.get(name)
        if content is None:
            raise ValueError(f"the entity &{name}; is external or not declared")
        if nesting >= _MAX_NESTING:
            raise ValueError(f"the entity &{name}; nests more than {_MAX_NESTING} deep")
        parts, size, position = [], 0, 0
        for match in _ENTITY_REFERENCE.finditer(content):
            inner = self.text(match.group(1), nesting + 1)
            parts += [content[position : match.start()], inner]
            size += match.start() - position + len(inner)
            position = match.end()
            if size > _MAX_EXPANSION:
                raise ValueError(
                    f"the entity &{name}; stands for more than {_MAX_EXPANSION} characters"
                )
        parts.append(content[position:])
        expanded = "".join(parts)
        if len(expanded) > _MAX_EXPANSION:
            raise ValueError(
                f"the entity &{name}; stands for more than {_MAX_EXPANSION} characters"
            )
        self._expanded[name] = expanded
        return expanded


def _record_of(node: etree._Element) -> etree._Element | None:
    return next(node.iterancestors(f"{_OAI}record"), None)


def _note(record: etree._Element | None, repair: str) -> None:
    if record is not None:
        noted = record.get(REPAIRS)
        if not noted or repair not in noted.split("; "):
            record.set(REPAIRS, f"{noted}; {repair}" if noted else repair)


def _splice(node: etree._Element, text: str) -> None:
    """Replace `node` by `text` in its parent's character data (in place)."""
    parent, previous = node.getparent(), node.getprevious()
    addition = text + (node.tail or "")
    if previous is not None:
        previous.tail = (previous.tail or "") + addition
    else:
        parent.text = (parent.text or "") + addition
    parent.remove(node)


def _expand_entities(root: etree._Element) -> None:
    """Every entity reference replaced by its text or dropped, attributes included."""
    entities = _Entities(root)
    references = [node for node in root.iter() if isinstance(node, etree._Entity)]
    for node in references:
        record = _record_of(node)
        external = node.name in entities.declared and entities.declared[node.name] is None
        try:
            _splice(node, entities.text(node.name))
            _note(record, "entities expanded to text")
        except ValueError as error:
            _splice(node, "")
            if external:
                _note(record, "external entities dropped")
            elif record is not None:  # undeclared, or too large to stand for text
                record.set(REFUSED, str(error))
    for record in root.iter(f"{_OAI}record"):
        before = etree.tostring(record)
        for element in record.iter():
            # lxml returns an attribute's value expanded; setting it writes it as text.
            for key, value in element.attrib.items():
                element.set(key, value)
        if etree.tostring(record) != before:
            _note(record, "entities expanded to text")


def _remove_marks(root: etree._Element) -> None:
    """The marks left where `_cleaned` dropped a character, removed, and the repair noted."""
    for element in root.iter():
        touched = False
        if element.text and MARK in element.text:
            element.text, touched = element.text.replace(MARK, ""), True
        if element.tail and MARK in element.tail:
            element.tail, touched = element.tail.replace(MARK, ""), True
        if isinstance(element.tag, str):
            for key, value in element.attrib.items():
                if MARK in value:
                    element.set(key, value.replace(MARK, ""))
                    touched = True
        if touched:
            record = element if element.tag == f"{_OAI}record" else _record_of(element)
            _note(record, "characters XML cannot carry removed")


def parse_response(body: bytes) -> etree._Element:
    """The root <OAI-PMH> element of a response, in the OAI namespace."""
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise NotOAIResponse(
            f"expected OAI-PMH XML, received an HTML page titled {_html_title(body)}"
        )
    cleaned = False
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        try:
            root = etree.fromstring(_cleaned(body), _PARSER)
            cleaned = True
        except etree.XMLSyntaxError as error:
            raise NotOAIResponse(
                f"expected OAI-PMH XML, received text that is not well-formed XML "
                f"({error.msg[:100]}), beginning {excerpt(body)}"
            ) from None
    if root is None:
        raise NotOAIResponse("expected OAI-PMH XML, received an empty document")
    name = etree.QName(root)
    if name.localname.lower() == "html":
        raise NotOAIResponse(
            f"expected OAI-PMH XML, received an HTML page titled {_html_title(body)}"
        )
    if name.localname != "OAI-PMH":
        raise NotOAIResponse(f"expected OAI-PMH XML, received a <{name.localname[:40]}> document")
    if name.namespace is None:
        _restore_namespace(root)
    elif name.namespace != OAI_NS:
        raise NotOAIResponse(
            f"expected OAI-PMH XML, received OAI-PMH in the namespace {name.namespace[:80]!r}"
        )
    if root.getroottree().docinfo.internalDTD is not None:
        _expand_entities(root)
    if cleaned:
        _remove_marks(root)
    return root
