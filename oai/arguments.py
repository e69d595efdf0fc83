"""Which arguments each verb takes, and the badVerb/badArgument rules of the spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
        else:
            arguments[name] = given[0]
    if "resumptionToken" in arguments and len(arguments) > 1:
        problems.append((BAD_ARGUMENT, "resumptionToken is an exclusive argument."))
    elif "resumptionToken" not in arguments:
        problems.extend(
            (BAD_ARGUMENT, f"{verb} requires the argument {name!r}.")
            for name in sorted(required - arguments.keys())
        )
    if problems:
        raise OAIError(*problems[0], *problems[1:])
    return OAIRequest(verb, arguments)
