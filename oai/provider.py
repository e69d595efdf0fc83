"""The six verbs: from a checked request to the body of the response.

The provider is callable without HTTP (tests, benchmarks); the blueprint only
turns HTTP into arguments and the result into bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from libfed.kernel.config import OAIConfig
from libfed.records.formats import FORMATS, stored_prefix
from libfed.records.repository import earliest_datestamp
from libfed.records.stored_xml import record_element

from . import queries
from . import xml as oxml
from .arguments import OAIRequest
from .dates import parse_utc, until_bound
from .errors import (
    BAD_ARGUMENT,
    BAD_RESUMPTION_TOKEN,
    CANNOT_DISSEMINATE_FORMAT,
    ID_DOES_NOT_EXIST,
    NO_METADATA_FORMATS,
    NO_RECORDS_MATCH,
    NO_SET_HIERARCHY,
    OAIError,
)
from .tokens import ListState, TokenSigner


def _no_friends(_session: Session) -> list[str]:
    return []


@dataclass(frozen=True)
class Provider:
    config: OAIConfig
    signer: TokenSigner
    # The base URLs of repositories this one harvests, for Identify's friends
    # description; given by the application, which knows the harvester.
    friends: Callable[[Session], list[str]] = _no_friends

    def respond(self, session: Session, request: OAIRequest, now: datetime) -> list[str | bytes]:
        """The body of a successful response; raises OAIError otherwise."""
        handler = {
            "Identify": self._identify,
            "ListMetadataFormats": self._list_metadata_formats,
            "ListSets": self._list_sets,
            "GetRecord": self._get_record,
            "ListIdentifiers": self._list_identifiers,
            "ListRecords": self._list_records,
        }[request.verb]
        return list(handler(session, request.arguments, now))

    def _identify(self, session: Session, _args: dict[str, str], now: datetime) -> Iterator[str]:
        sample = queries.sample_identifier(session) or f"oai:{self.config.repository_identifier}:1"
        yield oxml.identify(
            self.config.repository_name,
            self.config.base_url,
            self.config.admin_emails,
            earliest_datestamp(session) or now,
            self.config.repository_identifier,
            sample,
            self.friends(session),
        )

    def _list_metadata_formats(
        self, session: Session, args: dict[str, str], _now: datetime
    ) -> Iterator[str]:
        if "identifier" not in args:
            yield oxml.metadata_formats(FORMATS.values())
            return
        found = queries.record(session, args["identifier"])
        if found is None:
            raise OAIError(ID_DOES_NOT_EXIST, "No item has this identifier.")
        stored = set(queries.formats_of(session, found.id))
        offered = [f for f in FORMATS.values() if f.stored_prefix in stored]
        if not offered:
            raise OAIError(NO_METADATA_FORMATS, "This item has no metadata format to offer.")
        yield oxml.metadata_formats(offered)

    def _list_sets(self, session: Session, args: dict[str, str], _now: datetime) -> Iterator[str]:
        if "resumptionToken" in args:
            raise OAIError(BAD_RESUMPTION_TOKEN, "ListSets is answered in one response here.")
        sets = queries.all_sets(session)
        if not sets:
            raise OAIError(NO_SET_HIERARCHY, "This repository has no sets.")
        yield "<ListSets>"
        yield from (oxml.set_entry(s.spec, s.name, s.description) for s in sets)
        yield "</ListSets>"

    def _get_record(
        self, session: Session, args: dict[str, str], _now: datetime
    ) -> Iterator[str | bytes]:
        prefix = args["metadataPrefix"]
        found = queries.record(session, args["identifier"])
        if found is None:
            raise OAIError(ID_DOES_NOT_EXIST, "No item has this identifier.")
        stored = (
            queries.record_format(session, found.id, stored_prefix(prefix))
            if prefix in FORMATS
            else None
        )
        if stored is None:
            raise OAIError(CANNOT_DISSEMINATE_FORMAT, f"This item is not available as {prefix!r}.")
        yield "<GetRecord>"
        yield record_element(found.header_xml, stored.body_xml)
        yield "</GetRecord>"

    def _list_records(
        self, session: Session, args: dict[str, str], now: datetime
    ) -> Iterator[str | bytes]:
        return self._list(session, "ListRecords", args, now)

    def _list_identifiers(
        self, session: Session, args: dict[str, str], now: datetime
    ) -> Iterator[str | bytes]:
        return self._list(session, "ListIdentifiers", args, now)

    def _first_state(
        self, session: Session, verb: str, args: dict[str, str], now: datetime
    ) -> ListState:
        bounds: dict[str, tuple[datetime, str]] = {}
        problems = []
        for name in ("from", "until"):
            if name in args:
                try:
                    bounds[name] = parse_utc(args[name])
                except ValueError as error:
                    problems.append((BAD_ARGUMENT, f"{name}: {error}"))
        if problems:
            raise OAIError(*problems[0], *problems[1:])
        lower = bounds["from"][0] if "from" in bounds else None
        upper = now
        if "until" in bounds:
            if "from" in bounds and bounds["from"][1] != bounds["until"][1]:
                raise OAIError(BAD_ARGUMENT, "from and until must have the same granularity.")
            upper = min(until_bound(*bounds["until"]), now)
            if lower is not None and lower > bounds["until"][0]:
                raise OAIError(BAD_ARGUMENT, "from is later than until.")
        prefix = args["metadataPrefix"]
        if prefix not in FORMATS:
            raise OAIError(
                CANNOT_DISSEMINATE_FORMAT, f"{prefix!r} is not a format of this repository."
            )
        set_spec = args.get("set")
        if set_spec is not None and not queries.has_sets(session):
            raise OAIError(NO_SET_HIERARCHY, "This repository has no sets.")
        state = ListState(verb, prefix, set_spec, lower, upper, None, 0, 0)
        total = queries.count(session, state) if lower is None or lower <= upper else 0
        if total == 0:
            raise OAIError(NO_RECORDS_MATCH, "No records match the request.")
        return ListState(verb, prefix, set_spec, lower, upper, None, 0, total)

    def _list(
        self, session: Session, verb: str, args: dict[str, str], now: datetime
    ) -> Iterator[str | bytes]:
        resumed = "resumptionToken" in args
        if resumed:
            state = self.signer.decode(args["resumptionToken"], verb)
        else:
            state = self._first_state(session, verb, args, now)
        size = self.config.page_size
        with_metadata = verb == "ListRecords"
        rows = queries.page(session, state, size + 1, with_metadata)
        more = len(rows) > size
        rows = rows[:size]
        if not rows:
            # Only reachable by resuming after every remaining record changed.
            raise OAIError(NO_RECORDS_MATCH, "No records remain in this list.")
        yield f"<{verb}>"
        if with_metadata:
            yield b"".join([record_element(header, body) for _, header, body in rows])
        else:
            yield b"".join([header for _, header in rows])
        if more:
            last = rows[-1].identifier
            following = ListState(
                verb,
                state.prefix,
                state.set_spec,
                state.lower,
                state.upper,
                (queries.datestamp_of(session, last), last),
                state.cursor + len(rows),
                state.total,
            )
            expires = now + timedelta(seconds=self.signer.ttl_seconds)
            yield oxml.resumption_token(
                self.signer.encode(following), state.total, state.cursor, expires
            )
        elif resumed:
            yield oxml.resumption_token(None, state.total, state.cursor, None)
        yield f"</{verb}>"
