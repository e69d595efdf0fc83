"""What the exchange API accepts and returns: the input models check every field.

ISBNs and ISSNs are checked and normalised by python-stdnum: an ISBN-10 is kept
as its ISBN-13, both without hyphens; an ISSN as NNNN-NNNC. Amounts are decimal
text or numbers with at most two decimals; a weight has at most three (grams).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn
from stdnum.exceptions import ValidationError as NumberError

from libfed.kernel.errors import Codes, Message
from libfed.kernel.fields import (
    Count,
    Currency,
    Id,
    IsoDate,
    Language,
    Money,
    Timestamp,
    line,
    paragraphs,
)
from libfed.kernel.paging import PageQuery

from .states import DIRECTIONS, STATES

BASES = ("copy_for_copy", "value_for_value", "gift", "other")
# CN 22/CN 23 categories of item.
CONTENT_TYPES = (
    "gift",
    "documents",
    "commercial_sample",
    "returned_goods",
    "sale_of_goods",
    "other",
)


def _isbn(value: str) -> str:
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(value))
    except NumberError as error:
        raise ValueError(
            Message("{value!r} is not a valid ISBN", value=value, detail=error.message)
        ) from None


def _issn(value: str) -> str:
    try:
        return stdnum_issn.format(stdnum_issn.validate(value))
    except NumberError as error:
        raise ValueError(
            Message("{value!r} is not a valid ISSN", value=value, detail=error.message)
        ) from None


def _hs_code(value: str) -> str:
    digits = value.replace(".", "").replace(" ", "")
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (4, 6, 8, 10):
        raise ValueError(
            Message(
                "{value!r} is not an HS code (4 to 10 digits, e.g. 4901 or 4901.99)", value=value
            )
        )
    return digits


def _year(value: int) -> int:
    if not 1000 <= value <= date.today().year + 1:
        raise ValueError(
            Message("{year} is not a publication year (1000 to next year)", year=value)
        )
    return value


Isbn = Annotated[str, Field(max_length=32), AfterValidator(_isbn)]
Issn = Annotated[str, Field(max_length=16), AfterValidator(_issn)]
HsCode = Annotated[str, Field(max_length=16), AfterValidator(_hs_code)]
Year = Annotated[StrictInt, AfterValidator(_year)]
Weight = Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=3)]
# The most copies one line of a shipment holds (kernel.fields.Count's bound).
MAX_COPIES = 1_000_000
# Items added at once (a pasted list, a spreadsheet, an API call): as many lines as a
# coordinator packs in a day, and few enough that one transaction stays short.
MAX_BULK_ITEMS = 2000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _paired(model: BaseModel, amount: str, currency: str) -> None:
    if (getattr(model, amount) is None) != (getattr(model, currency) is None):
        given, missing = (
            (amount, currency)
            if getattr(model, amount) is not None
            else (
                currency,
                amount,
            )
        )
        raise ValueError(
            Message(
                "{given} and {missing} go together: give both or neither",
                given=Codes(given),
                missing=Codes(missing),
                field=missing,
            )
        )


class AgreementIn(_In):
    partner_id: Id
    basis: Literal[BASES]  # type: ignore[valid-type]
    start_date: IsoDate
    end_date: IsoDate | None = None
    annual_quota: Count | None = Field(default=None, description="Copies per year")
    notes: paragraphs() | None = None

    @model_validator(mode="after")
    def _period(self) -> AgreementIn:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(Message("is before the start date", field="end_date"))
        return self


class ShipmentIn(_In):
    """The fields of a shipment a coordinator may change (direction and status are not)."""

    partner_id: Id
    agreement_id: Id | None = None
    reference: line(64) | None = None
    carrier: line(128) | None = None
    tracking_number: line(64) | None = None
    parcels: Count | None = None
    weight_kg: Weight | None = None
    postage_cost: Money | None = None
    postage_currency: Currency | None = None
    customs_content_type: Literal[CONTENT_TYPES] | None = None  # type: ignore[valid-type]
    customs_hs_code: HsCode | None = None
    customs_declared_value: Money | None = None
    customs_currency: Currency | None = None
    notes: paragraphs() | None = None
    expected_by: IsoDate | None = Field(
        default=None, description="Incoming shipments: the day the partner said it would arrive"
    )

    @model_validator(mode="after")
    def _amounts(self) -> ShipmentIn:
        _paired(self, "postage_cost", "postage_currency")
        _paired(self, "customs_declared_value", "customs_currency")
        return self

    def has_customs(self) -> bool:
        return any(
            getattr(self, name) is not None
            for name in (
                "customs_content_type",
                "customs_hs_code",
                "customs_declared_value",
                "customs_currency",
            )
        )


class ShipmentCreate(ShipmentIn):
    direction: Literal[DIRECTIONS]  # type: ignore[valid-type]


class ItemIn(_In):
    title: line(1000)
    author: line(500) | None = None
    isbn: Isbn | None = None
    issn: Issn | None = None
    year: Year | None = None
    language: Language | None = None
    copies: Count = 1
    received_copies: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = Field(
        default=None,
        description="Incoming shipments: the copies that actually arrived, when not `copies`",
    )
    unit_value: Money | None = None
    currency: Currency | None = None
    record_identifier: line(512) | None = Field(
        default=None, description="OAI identifier of a record of this server"
    )
    notes: paragraphs() | None = None

    @model_validator(mode="after")
    def _value(self) -> ItemIn:
        _paired(self, "unit_value", "currency")
        return self


class ItemsIn(_In):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_BULK_ITEMS)]


class TransitionIn(_In):
    to: Literal[STATES]  # type: ignore[valid-type]
    note: paragraphs(2000) | None = None
    at: Timestamp | None = Field(
        default=None,
        description="When it happened, if earlier than now (ISO 8601; UTC unless an offset is given)",
    )


class ShipmentQuery(PageQuery):
    direction: Literal[DIRECTIONS] | None = None  # type: ignore[valid-type]
    status: Literal[STATES] | None = None  # type: ignore[valid-type]
    partner_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    year: Annotated[int, Field(ge=1000, le=9999)] | None = None


class AgreementQuery(PageQuery):
    partner_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class OfferQuery(PageQuery):
    set: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="Only records of this OAI set (e.g. your own publications)"
    )
    year_from: Annotated[int, Field(ge=0, le=9999)] | None = None


class DesiderataQuery(PageQuery):
    since: Annotated[int, Field(ge=0, le=9999)] | None = Field(
        default=None, description="Publication year from which (default: two years ago)"
    )


class FromRecords(_In):
    partner_id: Id
    direction: Literal[DIRECTIONS]  # type: ignore[valid-type]
    identifiers: Annotated[list[line(512)], Field(min_length=1, max_length=500)]


class YearQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: Annotated[int, Field(ge=1000, le=9999)]


# The widest range of years the multi-year report compares: a coordinator looks back a
# decade or two, and every year is a row to read.
MOST_YEARS = 20


class YearsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: Annotated[int, Field(ge=1000, le=9999)]
    last: Annotated[int, Field(ge=1000, le=9999)]

    @model_validator(mode="after")
    def _range(self) -> YearsQuery:
        if self.last < self.first:
            raise ValueError(Message("is before the first year", field="last"))
        if self.last - self.first >= MOST_YEARS:
            raise ValueError(
                Message(
                    "covers more than {most} years: choose a shorter range",
                    field="last",
                    most=MOST_YEARS,
                )
            )
        return self


# ------------------------------------------------------------------ what is returned


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    version: int
    created_at: str
    updated_at: str


Amounts = dict[str, str]


class YearCopies(BaseModel):
    sent: int
    received: int


class YearValues(BaseModel):
    sent: Amounts
    received: Amounts
    difference: Amounts = Field(description="Sent less received, per currency")


class AgreementOut(AgreementIn, _Out):
    model_config = ConfigDict(extra="allow")

    copies_by_year: dict[str, YearCopies] = Field(
        description="Copies sent (dispatched, not lost or returned) and received under it, per year"
    )
    value_by_year: dict[str, YearValues] = Field(
        description="Value sent and received under it per year, per currency, never converted"
    )


class ShipmentOut(ShipmentCreate, _Out):
    model_config = ConfigDict(extra="allow")

    status: str
    year: int
    allowed_transitions: list[str]
    titles: int
    copies: int
    value: Amounts


class ItemOut(ItemIn, _Out):
    model_config = ConfigDict(extra="allow")

    shipment_id: int


class AgreementPage(BaseModel):
    items: list[AgreementOut]
    total: int
    page: int
    per_page: int


class ShipmentPage(BaseModel):
    items: list[ShipmentOut]
    total: int
    page: int
    per_page: int


class ItemList(BaseModel):
    items: list[ItemOut]


class CandidateOut(BaseModel):
    identifier: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None


class CandidatePage(BaseModel):
    items: list[CandidateOut]
    total: int
    page: int
    per_page: int
    compared_with: list[str] = Field(description="The harvest sources of the partner's catalogue")


class AccessionOut(BaseModel):
    item_id: int
    identifier: str
    created: bool


class AccessionList(BaseModel):
    records: list[AccessionOut]


class Flows(BaseModel):
    titles_sent: int
    copies_sent: int
    value_sent: Amounts
    titles_received: int
    copies_received: int
    value_received: Amounts
    titles_difference: int
    copies_difference: int
    value_difference: Amounts


class BalanceRow(Flows):
    partner_id: int
    partner: str
    country: str
    domestic: bool


class BalanceReport(BaseModel):
    year: int
    rows: list[BalanceRow]
    totals: Flows


class CountryRow(Flows):
    country: str
    country_name: str
    domestic: bool
    partners: int


class CountryReport(BaseModel):
    year: int
    rows: list[CountryRow]
    domestic: Flows
    international: Flows
    totals: Flows


class YearRow(Flows):
    year: int


class YearsReport(BaseModel):
    first: int
    last: int
    rows: list[YearRow]
    totals: Flows
    partners: list[BalanceRow]
    countries: list[CountryRow]


class ValueAgreementRow(BaseModel):
    agreement_id: int
    partner_id: int
    partner: str
    country: str
    start_date: str
    end_date: str | None
    copies_sent: int
    copies_received: int
    value_sent: Amounts
    value_received: Amounts
    value_difference: Amounts


class ValueAgreementReport(BaseModel):
    year: int
    rows: list[ValueAgreementRow]
