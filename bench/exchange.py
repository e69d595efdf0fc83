"""The exchange API under load: `python -m bench.exchange` (run by `make bench`).

1. A fresh SQLite database under bench/data/, migrated, then filled by bulk Core
   inserts (not through the API): partners in 15 countries (the home country AZ
   among them), agreements, shipments whose states, times and years follow
   exchange/states.py, their items, and the shipment_totals rows computed by the
   same INSERT ... SELECT as exchange.items.refresh_totals, once for all shipments
   (spot-checked against refresh_totals itself).
2. `libfed serve --workers 2` (gunicorn, gthread) on a free port, scheduler off.
3. Load from two client processes (16 threads each, one keep-alive http.client
   connection per thread, 32 in all), per endpoint: the shipment list (pages and
   filters varied), the balance and the country report for 2025.
   - closed loop: every connection sends its next request as soon as the last one
     is answered, for BENCH_SECONDS: the saturation throughput (latency there is
     Little's law's 32 / throughput, the queue, not the service time);
   - open loop: requests scheduled at a fixed rate (BENCH_OPEN_FRACTION of the
     saturation throughput) round-robin over the 32 connections, latency measured
     from the scheduled send time, so that a stalled server is charged for the
     requests it held back (no coordinated omission).
   gunicorn keeps a keep-alive connection on the worker that accepted it, so each
   run reports how the 32 connections fell on the workers and what CPU each used.
4. Single-threaded service time of each endpoint in-process (Flask test client, no
   HTTP) on the same database, for comparison.

Figures go to bench/data/exchange.json. `python -m bench.exchange --profile`: each
endpoint's CPU time by step and cProfile of in-process requests, on the database of
the last run.

Environment knobs: BENCH_PARTNERS (60), BENCH_SHIPMENTS (10000), BENCH_ITEMS (200000),
BENCH_SECONDS (20), BENCH_CONNECTIONS (32), BENCH_CLIENT_PROCESSES (2),
BENCH_OPEN_FRACTION (0.5), BENCH_CONNECT_STAGGER_MS (20), BENCH_SERVER (a variant of
libfed's gunicorn settings, e.g. "threads=4,workers=3"; figures to
bench/data/exchange-<variant>.json).
"""

from __future__ import annotations

import cProfile
import http.client
import io
import json
import math
import multiprocessing
import os
import pstats
import random
import resource
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from libfed.accounts.models import Institution
from libfed.accounts.users import add_user
from libfed.exchange.items import TOTAL_COLUMNS, refresh_totals, summed_items
from libfed.exchange.models import Agreement, Shipment, ShipmentItem, ShipmentTotal
from libfed.exchange.schemas import BASES
from libfed.kernel.db import Database
from libfed.root.migrate import upgrade

from .run import BIN, DATA, Server, config_file, free_port

PARTNERS = int(os.environ.get("BENCH_PARTNERS", "60"))
SHIPMENTS = int(os.environ.get("BENCH_SHIPMENTS", "10000"))
ITEMS = int(os.environ.get("BENCH_ITEMS", "200000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "2"))
OPEN_FRACTION = float(os.environ.get("BENCH_OPEN_FRACTION", "0.5"))
# Closed loop: connection i opens at start + i * STAGGER (the open loop opens each just before
# its first send). 32 connects in one burst at an idle server land unevenly on its workers.
STAGGER = float(os.environ.get("BENCH_CONNECT_STAGGER_MS", "20")) / 1000
# Empty: `libfed serve` itself. Else libfed's gunicorn settings changed, to measure a change
# before making it: e.g. "threads=4,workers=3" (gunicorn settings as name=integer).
VARIANT = os.environ.get("BENCH_SERVER", "")
WORKERS = 2
WARMUP_SECONDS = 3.0
TARGET_P99_MS = 100.0
REPORT_YEAR = 2025

DATABASE = DATA / "exchange.sqlite3"
TOKEN = DATA / "exchange-token.txt"  # a viewer's, of the throw-away database: for --profile
HOME = "AZ"
# The data ends here whatever day the benchmark runs, so that every run loads the same rows.
END = datetime(2026, 11, 20, 17, 0, 0)
START = datetime(2022, 1, 3, 9, 0, 0)
API = "/api/v1"
ENDPOINTS = ("shipments", "balance", "countries")
TARGETED = ("shipments", "balance")  # p99 under 100 ms, no errors (the target)

# country: (partners of the 60, currency, approximate units per US dollar, cities)
COUNTRIES: dict[str, tuple[int, str, float, tuple[str, ...]]] = {
    "AZ": (10, "AZN", 1.7, ("Bakı", "Gəncə", "Sumqayıt", "Şəki", "Lənkəran", "Naxçıvan")),
    "TR": (6, "TRY", 34.0, ("Ankara", "İstanbul", "İzmir", "Kars")),
    "RU": (6, "RUB", 95.0, ("Москва", "Санкт-Петербург", "Казань", "Махачкала")),
    "UZ": (5, "UZS", 12700.0, ("Toshkent", "Samarqand", "Nukus")),
    "KZ": (4, "KZT", 480.0, ("Astana", "Almaty")),
    "GE": (4, "GEL", 2.7, ("Tbilisi", "Kutaisi")),
    "DE": (4, "EUR", 0.92, ("Berlin", "Leipzig", "Frankfurt am Main")),
    "FR": (3, "EUR", 0.92, ("Paris", "Strasbourg")),
    "GB": (3, "GBP", 0.79, ("London", "Oxford")),
    "US": (3, "USD", 1.0, ("Washington", "New York")),
    "IR": (3, "IRR", 42000.0, ("Tehran", "Tabriz")),
    "UA": (3, "UAH", 41.0, ("Kyiv", "Kharkiv")),
    "KG": (2, "KGS", 87.0, ("Bishkek",)),
    "TM": (2, "TMT", 3.5, ("Ashgabat",)),
    "TJ": (2, "TJS", 10.9, ("Dushanbe",)),
}
KINDS = ("national_library", "academic_library", "university", "public_library", "other")
LANGUAGES = {
    "AZ": "aze",
    "TR": "tur",
    "RU": "rus",
    "UZ": "uzb",
    "KZ": "kaz",
    "GE": "geo",
    "DE": "ger",
    "FR": "fre",
    "GB": "eng",
    "US": "eng",
    "IR": "per",
    "UA": "ukr",
    "KG": "kir",
    "TM": "tuk",
    "TJ": "tgk",
}
WORDS = {
    "aze": [
        "tarix",
        "ədəbiyyat",
        "dil",
        "xalq",
        "şeir",
        "nəğmə",
        "dastan",
        "elm",
        "mədəniyyət",
        "Qarabağ",
        "Şirvan",
        "əlyazma",
    ],
    "rus": [
        "история",
        "литература",
        "язык",
        "народ",
        "поэзия",
        "песни",
        "эпос",
        "наука",
        "культура",
        "Кавказ",
        "рукописи",
    ],
    "tur": [
        "tarih",
        "edebiyat",
        "dil",
        "halk",
        "şiir",
        "türkü",
        "destan",
        "bilim",
        "kültür",
        "Anadolu",
        "yazma",
    ],
    "eng": [
        "history",
        "literature",
        "language",
        "folk",
        "poetry",
        "songs",
        "epic",
        "science",
        "culture",
        "Caucasus",
        "manuscripts",
    ],
}
# How a shipment of each direction ends up, in per cent.
OUTCOMES = {
    "outgoing": {
        "draft": 4,
        "packed": 3,
        "dispatched": 8,
        "delivered": 15,
        "acknowledged": 60,
        "lost": 2,
        "returned": 2,
        "cancelled": 6,
    },
    "incoming": {"expected": 8, "received": 20, "accessioned": 65, "cancelled": 7},
}
OPEN_STATES = {"draft", "packed", "expected", "dispatched"}  # recent, still moving


# ------------------------------------------------------------------ the database


def _isbn13(rng: random.Random) -> str:
    digits = "978" + "".join(rng.choice("0123456789") for _ in range(9))
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def _issn(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(7))
    check = (11 - sum(int(d) * (8 - i) for i, d in enumerate(digits)) % 11) % 11
    return f"{digits[:4]}-{digits[4:]}{'X' if check == 10 else check}"


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 86400))


def _partners(rng: random.Random) -> list[dict]:
    slots = [c for c, (n, *_rest) in COUNTRIES.items() for _ in range(n)]
    rows = []
    for i in range(PARTNERS):
        country = slots[i % len(slots)]
        city = rng.choice(COUNTRIES[country][3])
        kind = KINDS[0] if i < len(COUNTRIES) else rng.choice(KINDS[1:])
        created = START - _days(rng, 30, 400)
        rows.append(
            {
                "id": i + 1,
                "name": f"{kind.replace('_', ' ').title()} {i + 1} ({city})",
                "other_names": {},
                "kind": kind,
                "country": country,
                "city": city,
                "isil": None,
                "email": f"exchange{i + 1}@library{i + 1}.example.org",
                "oai_base_url": None,
                "notes": None,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def _agreements(rng: random.Random, partners: list[dict]) -> tuple[list[dict], dict[int, int]]:
    """Most partners have a current agreement; some an expired one before it."""
    rows: list[dict] = []
    current: dict[int, int] = {}
    for partner in partners:
        if rng.random() < 0.12:
            continue
        first = date(rng.randint(2012, 2019), rng.randint(1, 12), 1)
        if rng.random() < 0.3:
            rows.append(
                _agreement(rng, len(rows) + 1, partner, first, first.replace(year=first.year + 4))
            )
            first = first.replace(year=first.year + 4)
        rows.append(_agreement(rng, len(rows) + 1, partner, first, None))
        current[partner["id"]] = len(rows)
    return rows, current


def _agreement(
    rng: random.Random, ident: int, partner: dict, start: date, end: date | None
) -> dict:
    created = datetime(start.year, start.month, start.day, 10)
    return {
        "id": ident,
        "partner_id": partner["id"],
        "basis": rng.choice(BASES),
        "start_date": start,
        "end_date": end,
        "annual_quota": rng.choice((None, 50, 100, 200, 500)),
        "notes": None,
        "version": 1,
        "created_at": created,
        "updated_at": created,
    }


def _timeline(rng: random.Random, direction: str, status: str) -> dict[str, datetime]:
    """The `<state>_at` times a shipment that ended in `status` went through, and created."""
    if status in OPEN_STATES:
        created = END - _days(rng, 5, 90)
    else:
        created = START + _days(rng, 0, (END - START).days - 5)
    times = {"created": created}
    if direction == "outgoing":
        path = {
            "draft": [],
            "packed": ["packed"],
            "dispatched": ["packed", "dispatched"],
            "delivered": ["packed", "dispatched", "delivered"],
            "acknowledged": ["packed", "dispatched", "delivered", "acknowledged"],
            "lost": ["packed", "dispatched", "lost"],
            "returned": ["packed", "dispatched", "returned"],
            "cancelled": [*rng.choice([[], ["packed"]]), "cancelled"],
        }[status]
        gaps = {
            "packed": (0.5, 10),
            "dispatched": (0.1, 5),
            "delivered": (5, 40),
            "acknowledged": (3, 60),
            "lost": (60, 120),
            "returned": (30, 90),
            "cancelled": (1, 30),
        }
    else:
        path = {
            "expected": [],
            "received": ["received"],
            "accessioned": ["received", "accessioned"],
            "cancelled": ["cancelled"],
        }[status]
        gaps = {"received": (10, 90), "accessioned": (5, 60), "cancelled": (10, 120)}
    at = created
    for state in path:
        at += _days(rng, *gaps[state])
        times[state] = at
    if at > END:  # moved back in time so that nothing happened after the data's end
        shift = at - END + _days(rng, 0, 3)
        times = {k: v - shift for k, v in times.items()}
    return {k: v.replace(microsecond=0) for k, v in times.items()}


def _shipments(rng: random.Random, partners: list[dict], current: dict[int, int]) -> list[dict]:
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(partners))]
    rng.shuffle(weights)
    rows = []
    for ident in range(1, SHIPMENTS + 1):
        partner = rng.choices(partners, weights)[0]
        direction = "outgoing" if rng.random() < 0.55 else "incoming"
        outcomes = OUTCOMES[direction]
        status = rng.choices(list(outcomes), list(outcomes.values()))[0]
        times = _timeline(rng, direction, status)
        year_state = "dispatched" if direction == "outgoing" else "received"
        year = (times.get(year_state) or times["created"]).year
        international = partner["country"] != HOME
        moved = "dispatched" in times or "received" in times
        row = {
            "id": ident,
            "direction": direction,
            "status": status,
            "partner_id": partner["id"],
            "agreement_id": current.get(partner["id"]) if rng.random() < 0.85 else None,
            "year": year,
            "reference": f"{'OUT' if direction == 'outgoing' else 'IN'}-{times['created'].year}-{ident:05d}",
            "carrier": rng.choice(("Azərpoçt", "EMS", "DHL", "UPS")) if moved else None,
            "tracking_number": f"RR{rng.randrange(10**8, 10**9)}AZ" if moved else None,
            "parcels": rng.randint(1, 6) if moved else None,
            "weight_grams": rng.randrange(500, 40_000) if moved else None,
            "postage_minor": rng.randrange(500, 25_000)
            if direction == "outgoing" and moved
            else None,
            "postage_currency": "AZN" if direction == "outgoing" and moved else None,
            "customs_content_type": "gift" if international and moved else None,
            "customs_hs_code": "4901" if international and moved else None,
            "customs_declared_value_minor": rng.randrange(2_000, 200_000)
            if international and moved
            else None,
            "customs_currency": "USD" if international and moved else None,
            "notes": None,
            "version": 1 + len(times) - 1 + rng.choice((0, 0, 1, 2)),
            "created_at": times["created"],
            "updated_at": max(times.values()),
        }
        for state in (
            "packed",
            "dispatched",
            "delivered",
            "acknowledged",
            "lost",
            "returned",
            "received",
            "accessioned",
            "cancelled",
        ):
            row[f"{state}_at"] = times.get(state)
        rows.append(row)
    return rows


def _item_counts(rng: random.Random, shipments: list[dict]) -> list[int]:
    """ITEMS spread over the shipments, lognormally; a shipment that was packed or received
    has at least one (exchange.states: needs_items), an early draft may have none."""
    needs = [s["packed_at"] is not None or s["received_at"] is not None for s in shipments]
    weights = [
        0.0 if not need and rng.random() < 0.2 else rng.lognormvariate(0, 0.8) for need in needs
    ]
    counts = [1 if need else 0 for need in needs]
    left = max(0, ITEMS - sum(counts))
    total = sum(weights) or 1.0
    for i, w in enumerate(weights):
        counts[i] += int(w / total * left)
    for i in rng.choices(range(len(shipments)), weights, k=max(0, ITEMS - sum(counts))):
        counts[i] += 1
    return counts


def _items(
    rng: random.Random, shipment: dict, partner: dict, count: int, first_id: int
) -> list[dict]:
    country = partner["country"]
    currency, per_usd = COUNTRIES[country][1], COUNTRIES[country][2]
    if shipment["direction"] == "outgoing":  # valued in manat by us
        currency, per_usd = "AZN", COUNTRIES["AZ"][2]
    language = LANGUAGES[country]
    words = WORDS.get(language, WORDS["eng"])
    until = shipment["packed_at"] or shipment["received_at"] or shipment["cancelled_at"] or END
    span = max(60, int((until - shipment["created_at"]).total_seconds()))
    arrived = shipment["direction"] == "incoming" and shipment["received_at"] is not None
    rows = []
    for k in range(count):
        created = shipment["created_at"] + timedelta(seconds=rng.randrange(span))
        copies = rng.choices((1, 2, 3, 5, 10), (70, 15, 8, 5, 2))[0]
        priced = rng.random()
        if priced < 0.2:
            unit, item_currency = None, None
        elif priced < 0.3:
            unit, item_currency = rng.randrange(500, 8_000), "USD"
        else:
            unit, item_currency = round(rng.uniform(5, 80) * per_usd * 100), currency
        serial = rng.random() < 0.05
        removed = rng.random() < 0.02
        rows.append(
            {
                "id": first_id + k,
                "shipment_id": shipment["id"],
                "title": " ".join(rng.sample(words, rng.randint(2, 5))).capitalize(),
                "author": None
                if serial
                else f"{rng.choice(words).capitalize()} {rng.choice(words).capitalize()}",
                "isbn": None if serial or rng.random() < 0.25 else _isbn13(rng),
                "issn": _issn(rng) if serial else None,
                "year": rng.randint(1950, 2026),
                "language": language if rng.random() < 0.8 else "eng",
                "copies": copies,
                "received_copies": (
                    rng.randint(0, copies - 1)
                    if arrived and copies > 1 and rng.random() < 0.04
                    else None
                ),
                "unit_value_minor": unit,
                "currency": item_currency,
                "record_identifier": None,
                "notes": None,
                "removed": removed,
                "version": 2 if removed else 1,
                "created_at": created,
                "updated_at": created + timedelta(hours=1) if removed else created,
            }
        )
    return rows


def _check_totals(db: Database, rng: random.Random) -> int:
    """Recompute the totals of sample shipments with refresh_totals itself (rolled back)."""
    sample = rng.sample(range(1, SHIPMENTS + 1), min(50, SHIPMENTS))

    def rows(session, ident):  # type: ignore[no-untyped-def]
        return sorted(
            tuple(r)
            for r in session.execute(
                select(ShipmentTotal.__table__).where(ShipmentTotal.shipment_id == ident)
            )
        )

    with db.session() as session:
        for ident in sample:
            ours = rows(session, ident)
            refresh_totals(session, ident)
            if rows(session, ident) != ours:
                raise AssertionError(f"totals of shipment {ident} differ from refresh_totals")
        session.rollback()
    return len(sample)


def build(config: Path) -> tuple[dict, str]:
    """A fresh migrated database filled with the ledger; the figures and a viewer's token."""
    for leftover in DATA.glob(f"{DATABASE.name}*"):
        leftover.unlink()
    started = time.perf_counter()
    rng = random.Random(20261123)
    db = Database(f"sqlite:///{DATABASE}")
    upgrade(db)
    partners = _partners(rng)
    agreements, current = _agreements(rng, partners)
    shipments = _shipments(rng, partners, current)
    counts = _item_counts(rng, shipments)
    by_id = {p["id"]: p for p in partners}
    with db.engine.begin() as connection:
        connection.execute(insert(Institution), partners)
        connection.execute(insert(Agreement), agreements)
        connection.execute(insert(Shipment), shipments)
        batch: list[dict] = []
        next_id = 1
        for shipment, count in zip(shipments, counts, strict=True):
            batch += _items(rng, shipment, by_id[shipment["partner_id"]], count, next_id)
            next_id += count
            if len(batch) >= 20_000:
                connection.execute(insert(ShipmentItem), batch)
                batch = []
        if batch:
            connection.execute(insert(ShipmentItem), batch)
        connection.execute(insert(ShipmentTotal).from_select(TOTAL_COLUMNS, summed_items()))
    with db.write() as session:
        _user, token = add_user(session, "bench-viewer", "viewer")
    TOKEN.write_text(token)
    checked = _check_totals(db, rng)
    with db.engine.connect() as connection:
        count = {
            name: connection.scalar(select(func.count()).select_from(model))
            for name, model in (
                ("partners", Institution),
                ("agreements", Agreement),
                ("shipments", Shipment),
                ("items", ShipmentItem),
                ("totals", ShipmentTotal),
            )
        }
        count["shipments_in_2025"] = connection.scalar(
            select(func.count()).where(Shipment.year == REPORT_YEAR)
        )
    db.dispose()
    seconds = time.perf_counter() - started
    return {
        **count,
        "countries": len({p["country"] for p in partners}),
        "totals_checked_against_refresh_totals": checked,
        "build_seconds": round(seconds, 1),
        "database_mb": round(
            sum(p.stat().st_size for p in DATA.glob(f"{DATABASE.name}*")) / 2**20, 1
        ),
    }, token


def list_paths(rng: random.Random, n: int = 4000) -> list[str]:
    """Shipment list requests as people make them: mostly first pages, filters of every kind."""
    db = Database(f"sqlite:///{DATABASE}")
    with db.engine.connect() as connection:
        partner_ids = list(connection.scalars(select(Shipment.partner_id).distinct()))

        def total(filters: dict) -> int:
            statement = select(func.count()).select_from(Shipment)
            for key, value in filters.items():
                statement = statement.where(getattr(Shipment, key) == value)
            return connection.scalar(statement) or 0

        paths = []
        totals: dict[str, int] = {}
        for _ in range(n):
            kind = rng.choices(
                ["none", "direction", "status", "year", "partner", "combined"],
                [30, 15, 15, 15, 15, 10],
            )[0]
            direction = rng.choice(("outgoing", "incoming"))
            status = rng.choice(list(OUTCOMES[direction]))
            year = rng.randint(2022, 2026)
            filters = {
                "none": {},
                "direction": {"direction": direction},
                "status": {"status": status},
                "year": {"year": year},
                "partner": {"partner_id": rng.choice(partner_ids)},
                "combined": {"direction": direction, "status": status, "year": year},
            }[kind]
            key = "&".join(f"{k}={v}" for k, v in filters.items())
            if key not in totals:
                totals[key] = total(filters)
            pages = max(1, math.ceil(totals[key] / 50))
            roll = rng.random()
            page = (
                1
                if roll < 0.5
                else rng.randint(1, min(10, pages))
                if roll < 0.8
                else rng.randint(1, pages)
            )
            paths.append(f"{API}/shipments?page={page}&per_page=50" + (f"&{key}" if key else ""))
    db.dispose()
    return paths


def endpoint_paths(rng: random.Random) -> dict[str, list[str]]:
    return {
        "shipments": list_paths(rng),
        "balance": [f"{API}/reports/balance?year={REPORT_YEAR}"],
        "countries": [f"{API}/reports/countries?year={REPORT_YEAR}"],
    }


# ------------------------------------------------------------------ the load


_RETRIABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Connection:
    """One keep-alive connection; a request that finds it closed by the server while idle
    (gunicorn's keep-alive timeout) is sent again once on a new one, as browsers and
    urllib3 do."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.reconnects = 0

    def open(self) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.http.connect()
        self.used = False

    def get(self, path: str) -> str | None:
        """None if the answer was a 200, else what went wrong."""
        for attempt in (1, 2):
            try:
                self.http.request("GET", path, headers=self.headers)
                response = self.http.getresponse()
                body = response.read()
                self.used = True
                if response.will_close:
                    self.http.close()
                    self.open()
                if response.status != 200:
                    return f"HTTP {response.status}: {body[:120]!r}"
                return None
            except _RETRIABLE as error:
                self.http.close()
                retry = self.used and attempt == 1
                self.open()
                if not retry:
                    return repr(error)
                self.reconnects += 1
            except Exception as error:  # counted, never fatal to the run
                self.http.close()
                self.open()
                return repr(error)
        return "unreachable"


def drive(job: dict) -> dict:
    """One client process: `len(job['connections'])` threads, one connection each.

    Closed loop when job['rate'] is None; else the k-th request of global connection
    c is scheduled at start + (c + k * CONNECTIONS) / rate.
    """
    start = time.perf_counter() + (job["start_wall"] - time.time())
    deadline = start + job["seconds"]
    rate, paths, stride = job["rate"], job["paths"], job["stride"]
    out: list[dict] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        connection = _Connection(job["port"], job["token"])
        rng = random.Random(index)
        latencies, service, errors, late = [], [], [], 0
        offset = rng.randrange(len(paths))
        k = 0
        last = start
        first = start + index * job["stagger"] if rate is None else start + index / rate - 0.005
        now = time.perf_counter()
        if first > now:
            time.sleep(first - now)
        connection.open()
        while True:
            if rate is None:
                scheduled = time.perf_counter()
                if scheduled >= deadline:
                    break
            else:
                scheduled = start + (index + k * stride) / rate
                if scheduled >= deadline:
                    break
                now = time.perf_counter()
                if scheduled > now:
                    time.sleep(scheduled - now)
            sent = time.perf_counter()
            late += sent - scheduled > 0.001
            problem = connection.get(paths[(offset + k) % len(paths)])
            last = time.perf_counter()
            k += 1
            if problem is None:
                latencies.append((last - scheduled) * 1000)
                service.append((last - sent) * 1000)
            else:
                errors.append(problem)
        connection.http.close()
        with lock:
            out.append(
                {
                    "latencies": latencies,
                    "service": service,
                    "errors": errors,
                    "late": late,
                    "last": last - start,
                    "reconnects": connection.reconnects,
                }
            )

    before = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=run, args=(i,)) for i in job["connections"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latencies": [x for o in out for x in o["latencies"]],
        "service": [x for o in out for x in o["service"]],
        "errors": [x for o in out for x in o["errors"]],
        "late": sum(o["late"] for o in out),
        "last": max(o["last"] for o in out),
        "reconnects": sum(o["reconnects"] for o in out),
        "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _cpu_by_pid(server: Server) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process of the server."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in server.tree():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return seconds


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all cores, every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def connections_per_worker(server: Server) -> dict[int, int]:
    """How many established client connections each gunicorn worker holds (a keep-alive
    connection stays with the worker that accepted it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server.port and fields[3] == "01":
                inodes.add(fields[9])
    counts = {}
    for pid in server.tree()[1:]:  # the workers, not the arbiter
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        counts[pid] = sum(link[8:-1] in inodes for link in links if link.startswith("socket:["))
    return counts


def load(
    pool: ProcessPoolExecutor,
    server: Server,
    token: str,
    paths: list[str],
    seconds: float,
    rate: float | None,
) -> dict:
    """One run over all client processes; the figures of all their connections together."""
    start_wall = time.time() + 1.0
    jobs = [
        {
            "port": server.port,
            "token": token,
            "paths": paths,
            "seconds": seconds,
            "rate": rate,
            "stride": CONNECTIONS,
            "start_wall": start_wall,
            "stagger": STAGGER,
            "connections": list(range(p, CONNECTIONS, PROCESSES)),
        }
        for p in range(PROCESSES)
    ]
    cpu, busy, window = _cpu_by_pid(server), _machine_busy(), time.perf_counter()
    futures = [pool.submit(drive, job) for job in jobs]
    time.sleep(max(0.0, start_wall + min(CONNECTIONS * STAGGER + 1.0, seconds / 2) - time.time()))
    spread = connections_per_worker(server)
    parts = [f.result() for f in futures]
    busy, window = _machine_busy() - busy, time.perf_counter() - window
    used = {pid: seconds - cpu.get(pid, 0.0) for pid, seconds in _cpu_by_pid(server).items()}
    server_cpu = sum(used.values())
    client_cpu = sum(p["cpu_seconds"] for p in parts)
    latencies = [x for p in parts for x in p["latencies"]]
    service = [x for p in parts for x in p["service"]]
    errors = [x for p in parts for x in p["errors"]]
    elapsed = max(seconds, max(p["last"] for p in parts))
    count = len(latencies) + len(errors)
    result = {
        "requests": count,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "throughput_per_s": round(count / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "service_p50_ms": round(percentile(service, 50), 1),
        "service_p99_ms": round(percentile(service, 99), 1),
        "reconnects": sum(p["reconnects"] for p in parts),
        # CPU use in cores over the whole window, the clients' second of setting up included.
        "server_cpu_cores": round(server_cpu / window, 2),
        # What a request costs the server whatever else runs beside it: 2000 / this is
        # the most two free cores could serve per second.
        "server_cpu_ms_per_request": round(server_cpu / count * 1000, 2) if count else None,
        "client_cpu_cores": round(client_cpu / window, 2),
        # Everything else on this shared machine meanwhile (other people's tests, say).
        "other_cpu_cores": round(max(0.0, busy - server_cpu - client_cpu) / window, 2),
        # Per worker: its keep-alive connections and the CPU it used, in cores.
        "workers": [
            {"connections": n, "cpu_cores": round(used.get(pid, 0.0) / window, 2)}
            for pid, n in sorted(spread.items(), key=lambda kv: -kv[1])
        ],
    }
    if rate is not None:
        result["rate_per_s"] = round(rate, 1)
        result["sent_late_over_1ms"] = sum(p["late"] for p in parts)
    else:
        result["littles_law_ms"] = (
            round(CONNECTIONS / (count / elapsed) * 1000, 1) if count else None
        )
    return result


# ------------------------------------------------------------------ in-process


def _app_client(config: Path):  # type: ignore[no-untyped-def]
    from libfed.kernel.config import load_config
    from libfed.root.app import create_app

    return create_app(load_config(config)).test_client()


def service_times(config: Path, token: str, paths: dict[str, list[str]], n: int = 200) -> dict:
    """Single-threaded, no HTTP: what one request costs the application itself, in wall
    time and in CPU time (the latter hardly moved by other work on the machine)."""
    client = _app_client(config)
    headers = {"Authorization": f"Bearer {token}"}
    figures = {}
    for endpoint, choices in paths.items():
        wall, cpu = [], []
        for k in range(n + 20):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(choices[k % len(choices)], headers=headers)
            if k >= 20:  # after a warm-up
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, response.data[:200]
        figures[endpoint] = {
            "p50_ms": round(percentile(wall, 50), 2),
            "p99_ms": round(percentile(wall, 99), 2),
            "cpu_mean_ms": round(sum(cpu) / len(cpu), 2),
        }
    return figures


def _cpu_ms(function, n: int, batches: int = 3) -> float:  # type: ignore[no-untyped-def]
    """CPU milliseconds of one function(k), k in range(n): the least mean of `batches`
    batches after a warm-up (other work on the machine only ever adds)."""
    for k in range(10):
        function(k)
    best = math.inf
    for _ in range(batches):
        started = time.process_time()
        for k in range(n):
            function(k)
        best = min(best, (time.process_time() - started) / n * 1000)
    return best


def _on_connection(db: Database, function, *arguments):  # type: ignore[no-untyped-def]
    with db.engine.connect() as connection:
        return function(connection, *arguments)


def stages(config: Path, token: str, paths: dict[str, list[str]], n: int = 200) -> dict:
    """Each endpoint's CPU time split into the application's own steps, called directly."""
    from urllib.parse import parse_qsl, urlsplit

    from libfed.accounts.users import caller_for_token
    from libfed.exchange import reports
    from libfed.exchange.schemas import ShipmentQuery
    from libfed.exchange.shipments import list_shipments, render_shipment, with_totals
    from libfed.kernel.config import load_config

    client = _app_client(config)
    headers = {"Authorization": f"Bearer {token}"}
    db = Database(load_config(config).database.url)
    queries = [
        ShipmentQuery.model_validate(dict(parse_qsl(urlsplit(path).query)))
        for path in paths["shipments"]
    ]

    def on_connection(work):  # type: ignore[no-untyped-def]
        """On a connection of the engine, as the views read."""

        def run(k: int):  # type: ignore[no-untyped-def]
            with db.engine.connect() as connection:
                return work(connection, k)

        return run

    def page(connection, k):  # type: ignore[no-untyped-def]
        rows, total = list_shipments(connection, queries[k % len(queries)])
        return {"items": with_totals(connection, rows), "total": total, "page": 1, "per_page": 50}

    pages = [on_connection(page)(k) for k in range(50)]
    loaded = [
        on_connection(lambda connection, k: list_shipments(connection, queries[k % len(queries)]))(
            k
        )
        for k in range(50)
    ]
    home, year = HOME, REPORT_YEAR
    balance_data = on_connection(lambda connection, k: reports.balance(connection, year, home))(0)
    countries_data = on_connection(lambda connection, k: reports.countries(connection, year, home))(
        0
    )

    def dumps(data):  # type: ignore[no-untyped-def]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    def request(path_list):  # type: ignore[no-untyped-def]
        return lambda k: client.get(path_list[k % len(path_list)], headers=headers)

    steps = {
        "authentication (caller_for_token)": lambda k: _on_connection(db, caller_for_token, token),
        "shipments: whole request (test client)": request(paths["shipments"]),
        "shipments: list_shipments (count + page)": on_connection(
            lambda connection, k: list_shipments(connection, queries[k % len(queries)])
        ),
        "shipments: list_shipments + with_totals": on_connection(page),
        "shipments: render_shipment x page (inside with_totals)": lambda k: [
            render_shipment(row) for row in loaded[k % 50][0]
        ],
        "shipments: json.dumps": lambda k: dumps(pages[k % 50]),
        "balance: whole request (test client)": request(paths["balance"]),
        "balance: flows_by_partner (one SQL query + summing)": on_connection(
            lambda connection, k: reports.flows_by_partner(connection, year)
        ),
        "balance: reports.balance, uncached (flows + partners + rendering)": on_connection(
            lambda connection, k: reports.balance(connection, year, home)
        ),
        "balance: json.dumps": lambda k: dumps(balance_data),
        "countries: whole request (test client)": request(paths["countries"]),
        "countries: reports.countries, uncached": on_connection(
            lambda connection, k: reports.countries(connection, year, home)
        ),
        "countries: json.dumps": lambda k: dumps(countries_data),
    }
    figures = {name: round(_cpu_ms(step, n), 2) for name, step in steps.items()}
    db.dispose()
    return figures


def profile(config: Path, token: str, paths: dict[str, list[str]], n: int = 200) -> None:
    """Where one request's time goes: the steps' CPU times, then cProfile of n in-process
    requests per endpoint."""
    for name, ms in stages(config, token, paths, n).items():
        print(f"{ms:8.2f} ms CPU  {name}")
    client = _app_client(config)
    headers = {"Authorization": f"Bearer {token}"}
    for endpoint, choices in paths.items():
        for k in range(20):
            client.get(choices[k % len(choices)], headers=headers)
        profiler = cProfile.Profile()
        started = time.process_time()
        profiler.enable()
        for k in range(n):
            client.get(choices[k % len(choices)], headers=headers)
        profiler.disable()
        per_request = (time.process_time() - started) / n * 1000
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        print(f"=== {endpoint}: {n} requests, {per_request:.2f} ms CPU each under cProfile ===")
        print(text.getvalue())


# ------------------------------------------------------------------ the run


def _table(results: dict) -> str:
    head = (
        "endpoint",
        "loop",
        "rate/s",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv CPU ms/req",
        "conns/worker",
        "srv cores",
        "cli cores",
        "other cores",
    )
    lines = [head]
    for loop in ("closed", "open"):
        for endpoint in ENDPOINTS:
            r = results[loop][endpoint]
            lines.append(
                (
                    endpoint,
                    loop,
                    str(r.get("rate_per_s", "max")),
                    str(r["requests"]),
                    str(r["errors"]),
                    f"{r['throughput_per_s']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    f"{r['max_ms']:.1f}",
                    f"{r['server_cpu_ms_per_request']:.1f}",
                    "/".join(str(w["connections"]) for w in r["workers"]),
                    f"{r['server_cpu_cores']:.2f}",
                    f"{r['client_cpu_cores']:.2f}",
                    f"{r['other_cpu_cores']:.2f}",
                )
            )
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines
    )


def _config() -> Path:
    config = config_file(DATABASE)
    config.write_text(config.read_text() + "[harvest]\nscheduler = false\n")
    return config


def server_options(variant: str) -> dict:
    from libfed.root.server import gunicorn_options

    options = gunicorn_options("127.0.0.1", 0, WORKERS)
    for item in filter(None, variant.split(",")):
        name, _, value = item.partition("=")
        options[name] = int(value)
    return options


def serve_variant(config: Path, port: int, variant: str) -> None:
    """libfed.root.server.run with the variant's settings (the scheduler is off in this config)."""
    from libfed.kernel.config import load_config
    from libfed.root.app import create_app
    from libfed.root.server import WSGIServer

    loaded = load_config(config)
    options = server_options(variant) | {"bind": f"127.0.0.1:{port}"}
    WSGIServer(lambda: create_app(loaded), options).run()


def serve_and_load(
    config: Path,
    token: str,
    paths: dict[str, list[str]],
    endpoints: tuple[str, ...] = ENDPOINTS,
    seconds: float = SECONDS,
) -> dict:
    """Serve `config` and load each endpoint, closed loop then open loop: apart from main
    so that bench.postgres loads the same server on PostgreSQL."""
    results: dict = {"closed": {}, "open": {}}
    port = free_port()
    command = (
        [sys.executable, "-m", "bench.exchange", "--serve", str(config), str(port), VARIANT]
        if VARIANT
        else [
            str(BIN / "libfed"),
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ]
    )
    server = Server(command, port, f"http://127.0.0.1:{port}{API}/openapi.json")
    try:
        with ProcessPoolExecutor(
            PROCESSES, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            for endpoint in endpoints:
                load(pool, server, token, paths[endpoint], WARMUP_SECONDS, None)
                results["closed"][endpoint] = load(
                    pool, server, token, paths[endpoint], seconds, None
                )
                print("closed", endpoint, results["closed"][endpoint], flush=True)
            for endpoint in endpoints:
                rate = results["closed"][endpoint]["throughput_per_s"] * OPEN_FRACTION
                results["open"][endpoint] = load(
                    pool, server, token, paths[endpoint], seconds, rate
                )
                print("open", endpoint, results["open"][endpoint], flush=True)
        results["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    finally:
        server.stop()
    return results


def main() -> None:
    DATA.mkdir(exist_ok=True)
    if sys.argv[1:2] == ["--serve"]:
        serve_variant(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    if sys.argv[1:] == ["--profile"]:
        profile(_config(), TOKEN.read_text(), endpoint_paths(random.Random(1)))
        return
    config = _config()
    suffix = "".join(c if c.isalnum() else "-" for c in VARIANT)
    results_file = DATA / (f"exchange-{suffix}.json" if VARIANT else "exchange.json")
    print(f"building {SHIPMENTS} shipments, {ITEMS} items ...", flush=True)
    data, token = build(config)
    print(data, flush=True)
    paths = endpoint_paths(random.Random(1))
    results: dict = {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "data": data,
        "setup": {
            "server": VARIANT or "libfed serve",
            "server_workers": WORKERS,
            "threads_per_worker": server_options(VARIANT)["threads"],
            "connections": CONNECTIONS,
            "client_processes": PROCESSES,
            "seconds_per_run": SECONDS,
            "connect_stagger_ms": STAGGER * 1000,
            "open_loop_fraction_of_saturation": OPEN_FRACTION,
        },
        "closed": {},
        "open": {},
    }
    results.update(serve_and_load(config, token, paths))
    results["in_process"] = service_times(config, token, paths)
    results["targets"] = {
        endpoint: {
            "open_loop_p99_ms": results["open"][endpoint]["p99_ms"],
            "errors": sum(results[loop][endpoint]["errors"] for loop in ("closed", "open")),
            "met": results["open"][endpoint]["p99_ms"] < TARGET_P99_MS
            and all(results[loop][endpoint]["errors"] == 0 for loop in ("closed", "open")),
        }
        for endpoint in TARGETED
    }
    results_file.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print()
    print(_table(results))
    print("in-process, one thread, no HTTP:", json.dumps(results["in_process"]))
    print("targets (open loop p99 < 100 ms, no errors):", json.dumps(results["targets"]))


if __name__ == "__main__":
    main()
