"""The exchange balance for a year, or for a range of years: per partner and per country,
sent against received; and the value balance of each value-for-value agreement.

Sent: outgoing shipments dispatched in the year and not lost or returned.
Received: incoming shipments received in the year (what actually arrived).
Values are summed per currency and never converted: a rate chosen here would be
a figure no one agreed to.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, extract, func, select
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel.fields import country_name, from_minor

from .agreements import usage
from .models import Agreement, Shipment, ShipmentTotal
from .shipments import COUNTED


@dataclass
class Flow:
    """What went each way, in titles, copies and value per currency (minor units)."""

    titles_sent: int = 0
    copies_sent: int = 0
    value_sent: dict[str, int] = field(default_factory=dict)
    titles_received: int = 0
    copies_received: int = 0
    value_received: dict[str, int] = field(default_factory=dict)

    def add(self, other: Flow) -> None:
        self.titles_sent += other.titles_sent
        self.copies_sent += other.copies_sent
        self.titles_received += other.titles_received
        self.copies_received += other.copies_received
        for mine, theirs in (
            (self.value_sent, other.value_sent),
            (self.value_received, other.value_received),
        ):
            for currency, minor in theirs.items():
                mine[currency] = mine.get(currency, 0) + minor

    def currencies(self) -> set[str]:
        return set(self.value_sent) | set(self.value_received)

    def render(self) -> dict:
        def amounts(values: dict[str, int]) -> dict[str, str]:
            return {c: from_minor(v) for c, v in sorted(values.items())}  # type: ignore[misc]

        difference = {
            c: self.value_sent.get(c, 0) - self.value_received.get(c, 0) for c in self.currencies()
        }
        return {
            "titles_sent": self.titles_sent,
            "copies_sent": self.copies_sent,
            "value_sent": amounts(self.value_sent),
            "titles_received": self.titles_received,
            "copies_received": self.copies_received,
            "value_received": amounts(self.value_received),
            "titles_difference": self.titles_sent - self.titles_received,
            "copies_difference": self.copies_sent - self.copies_received,
            "value_difference": amounts(difference),
        }


def _flows(
    executor: Session | Connection, key: ColumnElement, condition: ColumnElement[bool]
) -> dict[Any, Flow]:
    """One indexed pass over the counted shipments that meet `condition` and their
    totals, summed per value of `key` (a partner, a year)."""
    rows = executor.execute(
        select(
            key,
            Shipment.direction,
            ShipmentTotal.currency,
            func.sum(ShipmentTotal.titles),
            func.sum(ShipmentTotal.copies),
            func.sum(ShipmentTotal.value_minor),
            func.sum(ShipmentTotal.received_titles),
            func.sum(ShipmentTotal.received_copies),
            func.sum(ShipmentTotal.received_value_minor),
        )
        .join(ShipmentTotal, ShipmentTotal.shipment_id == Shipment.id)
        .where(condition, COUNTED)
        .group_by(key, Shipment.direction, ShipmentTotal.currency)
    )
    flows: dict[Any, Flow] = defaultdict(Flow)
    for group, direction, currency, titles, copies, value, r_titles, r_copies, r_value in rows:
        flow = flows[group]
        if direction == "outgoing":
            flow.titles_sent += titles
            flow.copies_sent += copies
            if currency:
                flow.value_sent[currency] = flow.value_sent.get(currency, 0) + value
        else:
            flow.titles_received += r_titles
            flow.copies_received += r_copies
            if currency:
                flow.value_received[currency] = flow.value_received.get(currency, 0) + r_value
    return flows


def flows_by_partner(session: Session | Connection, year: int) -> dict[int, Flow]:
    """The year's flows, per partner."""
    return _flows(session, Shipment.partner_id, Shipment.year == year)


def flows_by_year(session: Session | Connection, partner_id: int) -> dict[int, Flow]:
    """One partner's flows, per year."""
    return _flows(session, Shipment.year, Shipment.partner_id == partner_id)


def balance(session: Session | Connection, year: int, home_country: str) -> dict:
    """A row per partner that has an agreement or a shipment (zeros when nothing moved
    in the year: a silent partner is worth seeing), with the year's totals."""
    flows = flows_by_partner(session, year)
    with_ledger = set(session.scalars(select(Agreement.partner_id).distinct())) | set(
        session.scalars(select(Shipment.partner_id).distinct())
    )
    partners = session.execute(
        select(Institution.id, Institution.name, Institution.country)
        .where(Institution.id.in_(with_ledger | set(flows)))
        .order_by(Institution.name, Institution.id)
    ).all()
    totals = Flow()
    rows = []
    for ident, name, country in partners:
        flow = flows.get(ident, Flow())
        totals.add(flow)
        rows.append(
            {
                "partner_id": ident,
                "partner": name,
                "country": country,
                "domestic": country == home_country,
                **flow.render(),
            }
        )
    return {"year": year, "rows": rows, "totals": totals.render()}


def countries(session: Session | Connection, year: int, home_country: str) -> dict:
    """A row per country with exchange in the year, and domestic/international totals."""
    flows = flows_by_partner(session, year)
    country_of = dict(
        session.execute(
            select(Institution.id, Institution.country).where(Institution.id.in_(set(flows)))
        ).all()
    )
    by_country: dict[str, Flow] = defaultdict(Flow)
    partners: dict[str, int] = defaultdict(int)
    for partner, flow in flows.items():
        by_country[country_of[partner]].add(flow)
        partners[country_of[partner]] += 1
    groups = {"domestic": Flow(), "international": Flow(), "totals": Flow()}
    rows = []
    for country in sorted(by_country):
        flow = by_country[country]
        domestic = country == home_country
        groups["domestic" if domestic else "international"].add(flow)
        groups["totals"].add(flow)
        rows.append(
            {
                "country": country,
                "country_name": country_name(country),
                "domestic": domestic,
                "partners": partners[country],
                **flow.render(),
            }
        )
    return {"year": year, "rows": rows, **{k: v.render() for k, v in groups.items()}}


def years(session: Session | Connection, first: int, last: int, home_country: str) -> dict:
    """Each year from `first` to `last` (schemas.YearsQuery bounds the range) with its
    totals, and per partner and per country the totals over the whole range."""
    span = Shipment.year.between(first, last)
    per_year = _flows(session, Shipment.year, span)
    per_partner = _flows(session, Shipment.partner_id, span)
    partners = session.execute(
        select(Institution.id, Institution.name, Institution.country)
        .where(Institution.id.in_(set(per_partner)))
        .order_by(Institution.name, Institution.id)
    ).all()
    totals = Flow()
    rows = []
    for year in range(first, last + 1):
        flow = per_year.get(year, Flow())
        totals.add(flow)
        rows.append({"year": year, **flow.render()})
    by_country: dict[str, Flow] = defaultdict(Flow)
    counted: dict[str, int] = defaultdict(int)
    partner_rows = []
    for ident, name, country in partners:
        flow = per_partner[ident]
        by_country[country].add(flow)
        counted[country] += 1
        partner_rows.append(
            {
                "partner_id": ident,
                "partner": name,
                "country": country,
                "domestic": country == home_country,
                **flow.render(),
            }
        )
    return {
        "first": first,
        "last": last,
        "rows": rows,
        "totals": totals.render(),
        "partners": partner_rows,
        "countries": [
            {
                "country": country,
                "country_name": country_name(country),
                "domestic": country == home_country,
                "partners": counted[country],
                **by_country[country].render(),
            }
            for country in sorted(by_country)
        ],
    }


def value_agreements(session: Session | Connection, year: int) -> dict:
    """Each value-for-value agreement in force in the year, or with shipments counted under
    it in the year: copies and value per currency sent, received and their difference."""
    agreements = session.execute(
        select(
            Agreement.id,
            Agreement.partner_id,
            Institution.name,
            Institution.country,
            Agreement.start_date,
            Agreement.end_date,
        )
        .join(Institution, Institution.id == Agreement.partner_id)
        .where(Agreement.basis == "value_for_value")
        .order_by(Institution.name, Agreement.start_date, Agreement.id)
    ).all()
    used = usage(session, [row.id for row in agreements], year)
    nothing = {"sent": {}, "received": {}, "difference": {}}
    rows = []
    for ident, partner_id, name, country, start, end in agreements:
        values = used[ident]["value_by_year"].get(str(year))
        in_force = start.year <= year and (end is None or end.year >= year)
        if values is None and not in_force:
            continue
        copies = used[ident]["copies_by_year"].get(str(year), {"sent": 0, "received": 0})
        values = values or nothing
        rows.append(
            {
                "agreement_id": ident,
                "partner_id": partner_id,
                "partner": name,
                "country": country,
                "start_date": start.isoformat(),
                "end_date": None if end is None else end.isoformat(),
                "copies_sent": copies["sent"],
                "copies_received": copies["received"],
                "value_sent": values["sent"],
                "value_received": values["received"],
                "value_difference": values["difference"],
            }
        )
    return {"year": year, "rows": rows}


def months(session: Session | Connection, year: int) -> dict:
    """Counted shipments per month of the year (index 0 = January), sent and received.

    A shipment falls in the month of the event that fixes its year (dispatch or
    receipt), so the twelve months add up to the shipments the balance counts."""
    sent = [0] * 12
    received = [0] * 12
    for direction, when, column in (
        ("outgoing", Shipment.dispatched_at, sent),
        ("incoming", Shipment.received_at, received),
    ):
        month = extract("month", when)
        rows = session.execute(
            select(month, func.count())
            .where(Shipment.year == year, Shipment.direction == direction, COUNTED)
            .group_by(month)
        )
        for number, count in rows:
            if number:
                column[int(number) - 1] += count
    return {"year": year, "sent": sent, "received": received}


FLOW_COLUMNS = [
    "titles_sent",
    "copies_sent",
    "titles_received",
    "copies_received",
    "titles_difference",
    "copies_difference",
]
# The columns that name a row, per report; the API and the pages write the same CSV.
KEY_COLUMNS = {
    "balance": ["partner_id", "partner", "country", "domestic"],
    "countries": ["country", "country_name", "domestic", "partners"],
    "years": ["year"],
}


def csv_rows(rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Flat rows for a spreadsheet: one value column per currency and direction."""
    currencies = sorted({c for row in rows for c in row["value_sent"] | row["value_received"]})
    value_columns = [
        f"value_{kind}_{currency}"
        for currency in currencies
        for kind in ("sent", "received", "difference")
    ]
    flat = []
    for row in rows:
        out = {k: v for k, v in row.items() if not isinstance(v, dict)}
        for currency in currencies:
            for kind in ("sent", "received", "difference"):
                out[f"value_{kind}_{currency}"] = row[f"value_{kind}"].get(currency, "0.00")
        flat.append(out)
    return value_columns, flat


def csv_table(kind: str, rows: list[dict]) -> tuple[list[str], list[dict]]:
    """The columns and flat rows of a report's CSV, for every door that serves it."""
    value_columns, flat = csv_rows(rows)
    return KEY_COLUMNS[kind] + FLOW_COLUMNS + value_columns, flat


class ReportCache:
    """Reports computed once per ledger change, per process.

    A report reads every counted shipment of a year; the ledger changes a few times a
    day and is read all day. Keyed by what the report depends on and checked against
    the ledger's change counter (libfed.kernel.audit), an entry can never be served stale.
    """

    def __init__(self, size: int = 64) -> None:
        self._entries: OrderedDict[tuple, tuple[int, dict]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple, changes: int, compute: Callable[[], dict]) -> dict:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == changes:
                self._entries.move_to_end(key)
                return entry[1]
        data = compute()
        with self._lock:
            self._entries[key] = (changes, data)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return data
