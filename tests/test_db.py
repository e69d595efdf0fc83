"""Database URLs as people write them."""

from __future__ import annotations

import pytest

from libfed.kernel.db import masked_url, normalised_url


@pytest.mark.parametrize(
    ("written", "used"),
    [
        (
            "postgresql://libfed:s3cret@db.example.az:5432/libfed",
            "postgresql+psycopg://libfed:s3cret@db.example.az:5432/libfed",
        ),
        ("postgres://libfed@127.0.0.1/libfed", "postgresql+psycopg://libfed@127.0.0.1/libfed"),
        (
            "postgresql+psycopg://libfed@127.0.0.1/libfed",
            "postgresql+psycopg://libfed@127.0.0.1/libfed",
        ),
        ("sqlite:///var/libfed.sqlite3", "sqlite:///var/libfed.sqlite3"),
    ],
)
def test_a_plain_postgresql_url_uses_the_shipped_driver(written: str, used: str) -> None:
    assert normalised_url(written) == used


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (
            "postgresql://libfed:s3cret@db.example.az/libfed",
            "postgresql://libfed:***@db.example.az/libfed",
        ),
        # Written raw, not percent-encoded: all of it is hidden, and nothing after it.
        (
            "postgresql://libfed:p@ss/w:rd@db.example.az/libfed",
            "postgresql://libfed:***@db.example.az/libfed",
        ),
        (
            "postgresql://db.example.az/libfed?sslmode=require&password=s3cret",
            "postgresql://db.example.az/libfed?sslmode=require&password=***",
        ),
        ("postgresql://libfed@db.example.az/libfed", "postgresql://libfed@db.example.az/libfed"),
        ("sqlite:///var/libfed.sqlite3", "sqlite:///var/libfed.sqlite3"),
        ("::::", "::::"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(written: str, shown: str) -> None:
    assert masked_url(written) == shown


def test_the_suite_runs_on_the_url_it_was_given(db) -> None:  # type: ignore[no-untyped-def]
    from tests.backends import BACKEND

    assert db.engine.dialect.name == BACKEND
    assert db.engine.dialect.driver in ("pysqlite", "psycopg")
