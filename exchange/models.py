"""The exchange ledger's tables: agreements, shipments, their items and per-shipment totals.

Money is kept in minor units (hundredths) as integers: sums are exact on SQLite,
which has no decimal type, and on PostgreSQL alike. Nothing here is ever deleted:
a cancelled shipment is a state, a removed item keeps its row with `removed` set.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libfed.kernel.db import Base
from libfed.kernel.models import Versioned
from libfed.records.models import IDENTIFIER_LENGTH


class Agreement(Versioned, Base):
    """A bilateral exchange agreement with one partner."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    basis: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    annual_quota: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)


class Shipment(Versioned, Base):
    """A parcel (or consignment) sent to or received from a partner.

    `year` is the year the shipment counts in: of its dispatch (outgoing) or receipt
    (incoming), and of its creation until then; reports and the year filter use it.
    Each state of the machines in exchange.states has its `<state>_at` column.
    """

    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_year_direction_status", "year", "direction", "status"),
        Index("ix_shipments_partner", "partner_id", "id"),
        Index("ix_shipments_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(128))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    parcels: Mapped[int | None] = mapped_column(Integer)
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    postage_minor: Mapped[int | None] = mapped_column(Integer)
    postage_currency: Mapped[str | None] = mapped_column(String(3))
    customs_content_type: Mapped[str | None] = mapped_column(String(32))
    customs_hs_code: Mapped[str | None] = mapped_column(String(12))
    customs_declared_value_minor: Mapped[int | None] = mapped_column(Integer)
    customs_currency: Mapped[str | None] = mapped_column(String(3))
    notes: Mapped[str | None] = mapped_column(Text)
    packed_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    lost_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    accessioned_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Incoming: when the partner said it would arrive; past it, an expected shipment is overdue.
    expected_by: Mapped[date | None] = mapped_column(Date)


class ShipmentItem(Versioned, Base):
    """One title in a shipment, in `copies` copies."""

    __tablename__ = "shipment_items"
    __table_args__ = (Index("ix_shipment_items_shipment", "shipment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    title: Mapped[str] = mapped_column(String(1000))
    author: Mapped[str | None] = mapped_column(String(500))
    isbn: Mapped[str | None] = mapped_column(String(13), index=True)
    issn: Mapped[str | None] = mapped_column(String(9))
    year: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(3))
    copies: Mapped[int] = mapped_column(Integer)
    # What actually arrived, when it differs from `copies`: recorded here for incoming
    # shipments, and for outgoing ones as a peer or a partner's receipt page reports it.
    received_copies: Mapped[int | None] = mapped_column(Integer)
    unit_value_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    record_identifier: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    notes: Mapped[str | None] = mapped_column(Text)
    # Linked to a peer's shipment: the id of this item at the peer's side.
    remote_id: Mapped[int | None] = mapped_column(Integer)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class ReferenceCounter(Base):
    """The last number given to a shipment reference of one pattern in one year.

    Incremented under the row's lock (SELECT ... FOR UPDATE on PostgreSQL, the write lock
    on SQLite), so that two coordinators saving at once never get the same reference.
    """

    __tablename__ = "reference_counters"

    pattern: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class ShipmentTotal(Base):
    """A shipment's items summed per currency ('' for items without a value).

    Derived data, rewritten with every item change in the same transaction, so that
    the balance reports read one row per shipment instead of every item.
    """

    __tablename__ = "shipment_totals"

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    titles: Mapped[int] = mapped_column(Integer)
    copies: Mapped[int] = mapped_column(Integer)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    received_titles: Mapped[int] = mapped_column(Integer)
    received_copies: Mapped[int] = mapped_column(Integer)
    received_value_minor: Mapped[int] = mapped_column(BigInteger)
