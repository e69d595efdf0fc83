"""Stateless resumption tokens: the whole list query and its position, signed.

Nothing about a harvest is kept on the server, so a token works on any worker,
after a restart, and costs nothing when a harvester abandons it. The signature
makes a tampered or forged token a badResumptionToken instead of a query the
harvester made up; the embedded timestamp makes old tokens expire.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, URLSafeTimedSerializer

from .errors import BAD_RESUMPTION_TOKEN, OAIError

_VERBS = {"ListRecords": "R", "ListIdentifiers": "I"}
_VERB_OF = {code: verb for verb, code in _VERBS.items()}
# What encode() produces: URL-safe base64 segments joined by dots, nothing else.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)+")


@dataclass(frozen=True)
class ListState:
    """A list request frozen at its first page, and how far it has got."""

    verb: str
    prefix: str
    set_spec: str | None
    lower: datetime | None  # inclusive
    upper: datetime  # inclusive, frozen at the first request
    after: tuple[datetime, str] | None  # key of the last record sent
    cursor: int  # records sent before the next page
    total: int  # completeListSize counted at the first request


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.replace(tzinfo=UTC).timestamp())


def _from_epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).replace(tzinfo=None)


class TokenSigner:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="libfed.oai.resumption")
        self.ttl_seconds = ttl_seconds

    def encode(self, state: ListState) -> str:
        after_stamp, after_id = state.after if state.after else (None, None)
        return self._serializer.dumps(
            [
                _VERBS[state.verb],
                state.prefix,
                state.set_spec,
                _epoch(state.lower),
                _epoch(state.upper),
                _epoch(after_stamp),
                after_id,
                state.cursor,
                state.total,
            ]
        )

    def decode(self, token: str, verb: str) -> ListState:
        """The state in `token`, or badResumptionToken if it is not ours, expired or for another verb."""
        try:
            self._check_canonical(token)
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
            code, prefix, set_spec, lower, upper, after_stamp, after_id, cursor, total = data
            state = ListState(
                verb=_VERB_OF[code],
                prefix=prefix,
                set_spec=set_spec,
                lower=_from_epoch(lower),
                upper=_from_epoch(upper),  # type: ignore[arg-type]
                after=(_from_epoch(after_stamp), after_id) if after_id is not None else None,  # type: ignore[arg-type]
                cursor=int(cursor),
                total=int(total),
            )
        except (BadData, ValueError, TypeError, KeyError, OverflowError, OSError):
            raise OAIError(
                BAD_RESUMPTION_TOKEN, "The resumptionToken is invalid or has expired."
            ) from None
        if state.verb != verb:
            raise OAIError(BAD_RESUMPTION_TOKEN, f"This resumptionToken is not for {verb}.")
        return state

    def _check_canonical(self, token: str) -> None:
        """BadData unless `token` is spelt exactly as encode() spells it.

        itsdangerous alone accepts other spellings of a valid signature (non-ASCII
        characters are dropped, the spare low bits of the last base64 character
        are ignored), so an altered token could still pass as the original.
        """
        if not _TOKEN.fullmatch(token):
            raise BadData("not a token")
        signed, _, signature = token.rpartition(".")
        expected = self._serializer.make_signer().get_signature(signed)
        if not hmac.compare_digest(expected, signature.encode("ascii")):
            raise BadData("signature does not match")
