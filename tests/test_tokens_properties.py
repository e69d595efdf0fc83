"""Properties of resumption tokens and of the protocol's two date formats."""

from __future__ import annotations

import re
import types
from datetime import datetime, timedelta

import itsdangerous.timed
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from libfed.oai.dates import DAY, SECONDS, format_utc, parse_utc, until_bound
from libfed.oai.errors import OAIError
from libfed.oai.tokens import ListState, TokenSigner

SECRET = "s" * 48
TTL = 3600

moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 12, 31)).map(
    lambda value: value.replace(microsecond=0)
)
identifiers = st.text() | st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=600)
states = st.builds(
    ListState,
    verb=st.sampled_from(["ListRecords", "ListIdentifiers"]),
    prefix=st.text(min_size=1, max_size=30),
    set_spec=st.none() | st.text(max_size=60),
    lower=st.none() | moments,
    upper=moments,
    after=st.none() | st.tuples(moments, identifiers),
    cursor=st.integers(0, 10**9),
    total=st.integers(0, 10**9),
)


def signer(secret: str = SECRET, ttl: int = TTL) -> TokenSigner:
    return TokenSigner(secret, ttl)


def assert_bad(token: str, verb: str, using: TokenSigner | None = None) -> None:
    with pytest.raises(OAIError) as raised:
        (using or signer()).decode(token, verb)
    assert raised.value.codes == {"badResumptionToken"}


@settings(max_examples=200)
@given(state=states)
def test_a_token_decodes_to_the_state_it_encodes(state: ListState) -> None:
    token = signer().encode(state)
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", token), "tokens are URL-safe"
    assert signer().decode(token, state.verb) == state


@given(state=states)
def test_a_token_is_only_for_its_own_verb(state: ListState) -> None:
    other = "ListIdentifiers" if state.verb == "ListRecords" else "ListRecords"
    assert_bad(signer().encode(state), other)


@settings(max_examples=300)
@given(state=states, data=st.data())
def test_any_single_character_change_is_a_bad_token(state: ListState, data) -> None:  # type: ignore[no-untyped-def]
    token = signer().encode(state)
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=")
        | st.characters(),
        label="replacement",
    )
    assume(replacement != token[position])
    assert_bad(token[:position] + replacement + token[position + 1 :], state.verb)


@settings(max_examples=200)
@given(state=states, data=st.data())
def test_an_inserted_character_is_a_bad_token(state: ListState, data) -> None:  # type: ignore[no-untyped-def]
    token = signer().encode(state)
    position = data.draw(st.integers(0, len(token)), label="position")
    inserted = data.draw(st.characters(), label="inserted")
    assert_bad(token[:position] + inserted + token[position:], state.verb)


@settings(max_examples=200)
@given(state=states, data=st.data())
def test_a_truncated_token_is_bad(state: ListState, data) -> None:  # type: ignore[no-untyped-def]
    token = signer().encode(state)
    start = data.draw(st.integers(0, len(token)), label="start")
    end = data.draw(st.integers(start, len(token)), label="end")
    assume((start, end) != (0, len(token)))
    assert_bad(token[start:end], state.verb)


def test_every_spelling_of_the_last_character_but_one_is_bad() -> None:
    """The last base64 character has spare bits: its look-alikes must not pass."""
    state = ListState("ListRecords", "oai_dc", None, None, datetime(2024, 1, 1), None, 0, 1)
    token = signer().encode(state)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for character in alphabet.replace(token[-1], ""):
        assert_bad(token[:-1] + character, "ListRecords")
    assert_bad(token + "=", "ListRecords")
    assert_bad(token + "é", "ListRecords")
    assert_bad(token + "\n", "ListRecords")


@given(text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
@example(text="")
@example(text=".")
@example(text="..")
@example(text="a.b.c")
@example(text="\x00")
def test_garbage_is_a_bad_token(text: str) -> None:
    assert_bad(text, "ListRecords")


@given(state=states, secret=st.text(min_size=1, max_size=64))
def test_a_token_signed_with_another_secret_is_bad(state: ListState, secret: str) -> None:
    assume(secret != SECRET)
    assert_bad(signer(secret).encode(state), state.verb)


def test_a_token_expires_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    state = ListState("ListIdentifiers", "marc21", "a:b", None, datetime(2024, 1, 1), None, 10, 25)
    clock = types.SimpleNamespace(time=lambda: 1_700_000_000)
    monkeypatch.setattr(itsdangerous.timed, "time", clock)
    token = signer().encode(state)
    clock.time = lambda: 1_700_000_000 + TTL  # still valid at exactly the ttl
    assert signer().decode(token, "ListIdentifiers") == state
    clock.time = lambda: 1_700_000_000 + TTL + 1
    assert_bad(token, "ListIdentifiers")
    # The ttl is the signer's: one with a longer ttl would still accept it.
    assert signer(ttl=2 * TTL).decode(token, "ListIdentifiers") == state


# --- Dates ----------------------------------------------------------------------------------

all_seconds = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
)
STRICT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?")


@given(value=all_seconds.map(lambda v: v.replace(microsecond=0)))
def test_seconds_round_trip(value: datetime) -> None:
    text = format_utc(value)
    assert STRICT.fullmatch(text) and text.endswith("Z")
    assert parse_utc(text) == (value, SECONDS)
    assert format_utc(parse_utc(text)[0]) == text


@given(value=all_seconds)
def test_days_parse_to_midnight(value: datetime) -> None:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    assert parse_utc(text) == (datetime(value.year, value.month, value.day), DAY)


@given(text=st.text(max_size=30) | st.from_regex(r"\A[0-9T:Z\-.+ ]{8,24}\Z"))
@example(text="2024-01-01T00:00:00")
@example(text="2024-01-01T00:00:00.0Z")
@example(text="2024-01-01T00:00:00+00:00")
@example(text="2024-01-01T00:00Z")
@example(text="2024-01-01 00:00:00Z")
@example(text="2024-01-01t00:00:00z")
@example(text="2024-1-01")
@example(text="20240101")
@example(text=" 2024-01-01")
@example(text="2024-01-01\n")
@example(text="\uff12\uff10\uff12\uff14-01-01")  # full-width digits
@example(text="\u0662\u0660\u0662\u0664-01-01")  # Arabic-Indic digits
@example(text="2024-13-01")
@example(text="2024-02-30")
@example(text="0000-01-01")
@example(text="2024-01-01T24:00:00Z")
@example(text="2024-01-01T23:59:60Z")
def test_only_the_two_formats_are_accepted(text: str) -> None:
    """Whatever parses is written in one of the two forms, exactly, and means what it says."""
    try:
        value, granularity = parse_utc(text)
    except ValueError:
        return
    assert STRICT.fullmatch(text)
    if granularity == SECONDS:
        assert format_utc(value) == text
    else:
        assert granularity == DAY
        assert format_utc(value) == text + "T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("2024-05-01", "2024-05-01T23:59:59Z"),
        ("2024-02-29", "2024-02-29T23:59:59Z"),
        ("2023-12-31", "2023-12-31T23:59:59Z"),
        ("9999-12-31", "9999-12-31T23:59:59Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
    ],
)
def test_until_covers_what_it_names(text: str, last: str) -> None:
    assert format_utc(until_bound(*parse_utc(text))) == last


@given(value=all_seconds)
def test_until_a_day_is_its_last_second(value: datetime) -> None:
    day = datetime(value.year, value.month, value.day)
    bound = until_bound(day, DAY)
    assert bound.date() == day.date()
    assert bound == day + timedelta(hours=23, minutes=59, seconds=59)
    assert until_bound(value, SECONDS) == value
