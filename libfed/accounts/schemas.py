"""The accounts API's models: what /api/v1/institutions and /api/v1/users take and give.

Each package keeps its API models in its `schemas` module, so the shapes of the OpenAPI
document are found in one place per package. Institutions are checked on the way in:
country codes against ISO 3166 (pycountry), ISILs with python-stdnum (ISO 15511: a
registered country or agency prefix), e-mail addresses with email-validator.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StrictBool
from stdnum import isil as stdnum_isil
from stdnum.exceptions import ValidationError as NumberError

from libfed.kernel.callers import ROLES
from libfed.kernel.errors import Message
from libfed.kernel.fields import Country, HttpUrl, line, paragraphs
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
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    oai_base_url: HttpUrl | None = None
    notes: paragraphs() | None = None


class InstitutionOut(InstitutionIn):
    model_config = ConfigDict(extra="allow")

    id: int
    version: int
    domestic: bool
    created_at: str
    updated_at: str


class InstitutionQuery(PageQuery):
    country: Country | None = None
    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]


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


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    active: StrictBool | None = None


class UserOut(BaseModel):
    id: int
    version: int
    name: str
    role: str
    active: bool
    created_at: str


class UserList(BaseModel):
    items: list[UserOut]


class Token(BaseModel):
    """A bearer token: shown once, only its digest is kept."""

    user: UserOut
    token: str
