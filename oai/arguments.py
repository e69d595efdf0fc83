"""Which arguments each verb takes, and the badVerb/badArgument rules of the spec."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from libfed.records.xmltext import strip_illegal

from .errors import BAD_ARGUMENT, BAD_VERB, OAIError

_LIST = (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}))
# verb -> (required, optional); resumptionToken is handled apart: it is exclusive.
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset()),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": _LIST,
    "ListRecords": _LIST,
}
RESUMABLE = frozenset({"ListSets", "ListIdentifiers", "ListRecords"})

# The syntax OAI-PMH.xsd gives these arguments. A value outside it is badArgument
# ("values for arguments have an illegal syntax"); answering it with another error
# would echo it in <request>, and the response would not validate.
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_ANY_URI = etree.XMLSchema(
    etree.XML(
        b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        b'<xs:element name="uri" type="xs:anyURI"/></xs:schema>'
    )
)
_ANY_URI_LOCK = threading.Lock()  # one schema object, shared by threaded workers: take turns


def _is_uri(value: str) -> bool:
    """Whether `value` is an xs:anyURI as the validator of responses judges it."""
    if strip_illegal(value) != value:
        return False
    element = etree.Element("uri")
    element.text = value
    with _ANY_URI_LOCK:
        return bool(_ANY_URI.validate(element))


_SYNTAX: dict[str, Callable[[str], bool]] = {
    "metadataPrefix": lambda value: bool(_PREFIX.fullmatch(value)),
    "set": lambda value: bool(_SET_SPEC.fullmatch(value)),
    "identifier": _is_uri,
}


@dataclass(frozen=True)
class OAIRequest:
    verb: str
    arguments: dict[str, str]


def parse(values: Mapping[str, list[str]]) -> OAIRequest:
    """Check the request's arguments (name -> every value given) against the verb's rules."""
    verbs = values.get("verb", [])
    if not verbs:
        raise OAIError(BAD_VERB, "The request has no verb.")
    if len(verbs) > 1:
        raise OAIError(BAD_VERB, "The verb argument is repeated.")
    verb = verbs[0]
    if verb not in VERBS:
        raise OAIError(BAD_VERB, f"{verb!r} is not an OAI-PMH verb.")
    required, optional = VERBS[verb]
    allowed = required | optional | ({"resumptionToken"} if verb in RESUMABLE else set())
    problems: list[tuple[str, str]] = []
    arguments: dict[str, str] = {}
    for name, given in values.items():
        if name == "verb":
            continue
        if name not in allowed:
            problems.append((BAD_ARGUMENT, f"{name!r} is not an argument of {verb}."))
        elif len(given) > 1:
            problems.append((BAD_ARGUMENT, f"The argument {name!r} is repeated."))
        elif name in _SYNTAX and not _SYNTAX[name](given[0]):
            problems.append((BAD_ARGUMENT, f"{given[0]!r} is not a valid value of {name!r}."))
        else:
            arguments[name] = given[0]
    if "resumptionToken" in arguments and len(arguments) > 1:
        problems.append((BAD_ARGUMENT, "resumptionToken is an exclusive argument."))
    elif "resumptionToken" not in arguments:
        problems.extend(
            (BAD_ARGUMENT, f"{verb} requires the argument {name!r}.")
            for name in sorted(required - values.keys())  # given but bad: reported above
        )
    if problems:
        raise OAIError(*problems[0], *problems[1:])
    return OAIRequest(verb, arguments)
