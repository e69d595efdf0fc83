"""Institutions: partners in exchange and owners of harvest sources, checked on the way in.

Country codes come from ISO 3166 (pycountry), ISILs are checked with python-stdnum
(ISO 15511: a registered country or agency prefix), e-mail addresses with
email-validator. Whether a partner is domestic is not stored: it follows from the
configured home country, so moving the home country never leaves stale flags.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import isil as stdnum_isil
from stdnum.exceptions import ValidationError as NumberError

from libfed.kernel import editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Invalid, Message
from libfed.kernel.fields import Country, HttpUrl, line, paragraphs
from libfed.kernel.paging import PageQuery, paginate

from .models import Institution

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


def renderer(home_country: str) -> editing.Render:
    def render(institution: Institution) -> dict:
        return {
            "id": institution.id,
            "version": institution.version,
            "name": institution.name,
            "other_names": dict(institution.other_names or {}),
            "kind": institution.kind,
            "country": institution.country,
            "domestic": institution.country == home_country,
            "city": institution.city,
            "isil": institution.isil,
            "email": institution.email,
            "oai_base_url": institution.oai_base_url,
            "notes": institution.notes,
            "created_at": institution.created_at.isoformat() + "Z",
            "updated_at": institution.updated_at.isoformat() + "Z",
        }

    return render


def _check_isil_free(session: Session, isil: str | None, own_id: int | None) -> None:
    if isil is None:
        return
    holder = session.scalar(select(Institution.id).where(Institution.isil == isil))
    if holder is not None and holder != own_id:
        raise Invalid(
            {
                "isil": Message(
                    "{isil} already belongs to institution {holder}", isil=isil, holder=holder
                )
            }
        )


def create_institution(
    session: Session, data: dict, *, actor: Caller, home_country: str
) -> Institution:
    values = editing.validated(InstitutionIn, data)
    _check_isil_free(session, values.isil, None)
    return editing.create(
        session,
        Institution(**values.model_dump()),
        renderer(home_country),
        actor=actor,
        entity="institution",
    )


def update_institution(
    session: Session,
    ident: int,
    patch: dict,
    *,
    actor: Caller,
    home_country: str,
    expected_version: int | None,
) -> Institution:
    institution = editing.get(session, Institution, ident, "institution")
    editing.check_version(institution, expected_version)
    render = renderer(home_country)
    values = editing.merged(
        InstitutionIn, editing.current_input(InstitutionIn, render(institution)), patch
    )
    _check_isil_free(session, values.isil, institution.id)
    return editing.change(
        session, institution, values.model_dump(), render, actor=actor, entity="institution"
    )


def list_institutions(session: Session, query: InstitutionQuery) -> tuple[list[Institution], int]:
    statement = select(Institution)
    if query.country:
        statement = statement.where(Institution.country == query.country)
    if query.kind:
        statement = statement.where(Institution.kind == query.kind)
    return paginate(session, statement.order_by(Institution.name, Institution.id), query)
