"""The accounts API's models: what /api/v1/institutions and /api/v1/users take and give.

Each package keeps its API models in its `schemas` module, so the shapes of the OpenAPI
document are found in one place per package. Institutions are checked on the way in:
country codes against ISO 3166 (pycountry), ISILs with python-stdnum (ISO 15511: a
registered country or agency prefix), e-mail addresses with email-validator, letter
languages against CLDR (Babel), telephone numbers loosely (people write them many ways).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StrictBool
from stdnum import isil as stdnum_isil
from stdnum.exceptions import ValidationError as NumberError

from libfed.kernel.callers import ROLES
from libfed.kernel.errors import Message
from libfed.kernel.fields import Country, HttpUrl, Id, line, paragraphs
from libfed.kernel.paging import PageQuery

KINDS = (
    "national_library",
    "academic_library",
    "university",
    "school",
    "public_library",
    "other",
)
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?")
# A locale id as the pages' languages are named ('az', 'uz_Latn', 'uz_Cyrl').
_LOCALE_ID = re.compile(r"[a-z]{2,3}(_[A-Z][a-z]{3})?")
# Digits with the signs people write a number with: "+994 (12) 493-40-03", "0 371 232 83 94".
_PHONE = re.compile(r"\+?[0-9 ()./-]*[0-9][0-9 ()./-]*")


def _isil(value: str) -> str:
    try:
        return stdnum_isil.format(stdnum_isil.validate(value))
    except NumberError as error:
        raise ValueError(
            Message(
                "{value!r} is not a valid ISIL (ISO 15511, e.g. 'DE-101')",
                value=value,
                detail=str(error),
            )
        ) from None


def _names(value: dict[str, str]) -> dict[str, str]:
    for tag in value:
        if not _LANGUAGE_TAG.fullmatch(tag):
            raise ValueError(
                Message("{tag!r} is not a language tag such as 'ru', 'az' or 'uz-Cyrl'", tag=tag)
            )
    return value


def _locale_id(value: str) -> str:
    try:
        known = _LOCALE_ID.fullmatch(value) is not None and Locale.parse(value) is not None
    except (ValueError, UnknownLocaleError):
        known = False
    if not known:
        raise ValueError(
            Message(
                "{value!r} is not a language of the pages such as 'az' or 'uz_Latn'", value=value
            )
        )
    return value


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError(
            Message("may hold only digits, spaces, +, -, ( and ), e.g. +994 12 493 40 03")
        )
    return value


Phone = Annotated[line(40), AfterValidator(_phone)]
Email = Annotated[EmailStr, Field(max_length=254)]


class InstitutionIn(BaseModel):
    """An institution as a coordinator describes it."""

    model_config = ConfigDict(extra="forbid")

    name: line(255)
    other_names: Annotated[
        dict[Annotated[str, Field(max_length=16)], line(255)],
        Field(max_length=20),
        AfterValidator(_names),
    ] = Field(default_factory=dict, description="Language tag -> name, e.g. {'ru': '...'}")
    kind: Literal[KINDS] = "other"  # type: ignore[valid-type]
    country: Country
    city: line(128) | None = None
    isil: Annotated[str, Field(max_length=32), AfterValidator(_isil)] | None = None
    email: Email | None = None
    oai_base_url: HttpUrl | None = None
    notes: paragraphs() | None = None
    postal_address: paragraphs(1000) | None = Field(
        None, description="As written on an envelope, one line per line, without the country"
    )
    phone: Phone | None = None
    letter_language: Annotated[str, Field(max_length=16), AfterValidator(_locale_id)] | None = (
        Field(None, description="The language of its letters, e.g. 'ru'; none: ours")
    )


class InstitutionOut(InstitutionIn):
    model_config = ConfigDict(extra="allow")

    id: int
    version: int
    domestic: bool
    archived_at: str | None = Field(None, description="When it was archived; read-only")
    merged_into_id: int | None = Field(
        None, description="The institution this duplicate was merged into; read-only"
    )
    created_at: str
    updated_at: str


class InstitutionQuery(PageQuery):
    country: Country | None = None
    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]
    archived: bool = Field(False, description="true: the archived ones only")


class MergeIn(BaseModel):
    """Merge this institution (a duplicate) into another, which keeps everything."""

    model_config = ConfigDict(extra="forbid")

    into: Id
    into_version: Id | None = Field(
        None, description="The survivor's version as last read; a newer one is refused"
    )


# ------------------------------------------------------------------ contacts


class ContactIn(BaseModel):
    """A person at an institution whom coordinators write to or call."""

    model_config = ConfigDict(extra="forbid")

    name: line(255)
    position: line(255) | None = None
    email: Email | None = None
    phone: Phone | None = None
    notes: paragraphs(2000) | None = None


class ContactOut(ContactIn):
    id: int
    version: int
    institution_id: int
    created_at: str
    updated_at: str


class ContactList(BaseModel):
    items: list[ContactOut]


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    total: int
    page: int
    per_page: int


# ------------------------------------------------------------------ users


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: Literal[ROLES]  # type: ignore[valid-type]
    email: Annotated[EmailStr, Field(max_length=254)] | None = Field(
        None, description="Where the weekly reminder digest goes (coordinators, admins)"
    )


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    active: StrictBool | None = None
    email: Annotated[EmailStr, Field(max_length=254)] | None = Field(
        None, description="A new address; null removes it (no digest is mailed)"
    )


class UserOut(BaseModel):
    id: int
    version: int
    name: str
    role: str
    active: bool
    email: str | None = None
    created_at: str


class UserList(BaseModel):
    items: list[UserOut]


class Token(BaseModel):
    """A bearer token: shown once, only its digest is kept."""

    user: UserOut
    token: str
