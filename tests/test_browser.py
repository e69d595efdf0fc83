"""The pages in a real browser: headless Chromium against the app on loopback.

A coordinator's whole journey (partner, shipment, items by ISBN, packing, dispatch, the
year's report, another language, a form sent back with an error), screenshots of every
page on the way, axe-core's verdict on each page, and the keyboard: the order of Tab on
the sign-in page and a visible focus on every control of a shipment's page.

The database of every test starts as `make serve` leaves it: the demo catalogue and the
demo exchange programme, plus a harvested source, so that the pages show real data.

And a hostile harvested record opened from /oai by a signed-in coordinator: shown as
text through the XSLT, and kept from running by the Content-Security-Policy alone
where a browser shows the XML itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest
from browser import (
    axe_violations,
    duplicate_ids,
    focused,
    new_page,
    number,
    read_table,
    screenshot,
    submit,
    tab_walk,
    tag_focusables,
)
from conftest import PASSWORD, REPOSITORY_ID, ROOT, config_dict
from playwright.sync_api import (
    Browser,
    Page,
    Request,
    Response,
    Route,
    expect,
)
from sqlalchemy import select

from libfed.accounts.models import Institution
from libfed.exchange import lookup as catalogue
from libfed.exchange.demo import load_exchange_demo
from libfed.exchange.models import Shipment, ShipmentItem
from libfed.harvest.models import Run, Source
from libfed.kernel.db import Database
from libfed.records.identifiers import get_record_url, harvested_identifier
from libfed.records.importer import import_files
from libfed.records.repository import NewRecord, store
from tests.backends import Databases

pytestmark = pytest.mark.slow

DEMO_RECORDS = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"
HOME = config_dict("unused")["exchange"]["home_country"]
# Two books of the demo catalogue, by the ISBN on their records (field 020).
ISBNS = ("9789952205312", "9789952264180")
COORDINATOR = "coordinator-user"


# ------------------------------------------------------------------ the data and the site


@pytest.fixture(scope="module")
def migrated_template(migrated_template: str, databases: Databases) -> str:
    """conftest's migrated database, with the demo catalogue and exchange programme and
    one harvested source; made once for the module (the programme takes seconds), copied
    for each test by conftest's `db`."""
    url = databases.copy(migrated_template, "browser")
    database = Database(url)
    summary = import_files(database, REPOSITORY_ID, [DEMO_RECORDS])
    assert summary.added and not summary.rejected
    assert load_exchange_demo(database, HOME)
    with database.write() as session:
        institution = session.scalars(
            select(Institution.id).where(Institution.country != HOME).order_by(Institution.id)
        ).first()
        source = Source(
            name="partner-catalogue",
            base_url="https://opac.example.org/oai",
            prefix="oai_dc",
            sets=[],
            enabled=True,
            every_seconds=86_400,
            institution_id=institution,
        )
        session.add(source)
        session.flush()
        session.add(
            Run(
                source_id=source.id,
                started_at=datetime(2026, 1, 5, 3, 0),
                finished_at=datetime(2026, 1, 5, 3, 2),
                status="succeeded",
                requests=3,
                pages=3,
                added=24,
                errors=[],
            )
        )
    database.dispose()  # SQLite: checkpoints the WAL; PostgreSQL: a template takes no connection
    return url


@dataclass(frozen=True)
class Site:
    url: str
    draft_shipment: int  # outgoing, still editable, with items
    sent_shipment: int  # outgoing, dispatched or further, international
    partner: int  # the draft's partner


@pytest.fixture
def site(live_server: str, web_users: dict[str, str], db: Database) -> Site:
    """The app on loopback, its users (password PASSWORD), and where the demo's pages are."""
    assert web_users["coordinator"] == COORDINATOR
    with db.session() as session:
        with_items = select(ShipmentItem.shipment_id)
        outgoing = (
            select(Shipment)
            .where(Shipment.direction == "outgoing", Shipment.id.in_(with_items))
            .order_by(Shipment.id)
        )
        draft = session.scalars(outgoing.where(Shipment.status == "draft")).first()
        sent = session.scalars(
            outgoing.join(Institution, Institution.id == Shipment.partner_id).where(
                Shipment.status.in_(["dispatched", "delivered", "acknowledged"]),
                Institution.country != HOME,
            )
        ).first()
        assert draft is not None and sent is not None, "the demo has changed"
        return Site(live_server.removesuffix("/oai"), draft.id, sent.id, draft.partner_id)


@pytest.fixture
def page(browser: Browser, site: Site, broken: list[str]) -> Iterator[Page]:
    """conftest's English page (browser.new_page), 1280 px wide, on the demo's site; every
    stylesheet, script or image that fails to load is noted in `broken`."""
    opened = new_page(browser, site.url, viewport={"width": 1280, "height": 900})

    def check(response: Response) -> None:
        kind = response.request.resource_type
        if response.status >= 400 and kind in {"stylesheet", "script", "image", "font"}:
            broken.append(f"{response.status} {response.url} ({kind})")

    opened.on("response", check)
    # A request the browser itself abandoned (the favicon of a page left while it loads,
    # on a busy machine) is no breakage; one the server or the network failed is.
    opened.on(
        "requestfailed",
        lambda request: (
            broken.append(f"failed {request.url}: {request.failure}")
            if request.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    # A script or style the Content-Security-Policy refused, or a script that failed (a
    # page answered 4xx is logged too: that is the form's refusal, not a breakage).
    opened.on(
        "console",
        lambda message: (
            broken.append(f"console: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    opened.on("pageerror", lambda error: broken.append(f"script error: {error}"))
    yield opened
    opened.context.close()


@pytest.fixture
def broken() -> list[str]:
    """What the pages of a test failed to load or run (refused by the CSP, or broken)."""
    return []


def sign_in(page: Page, name: str = COORDINATOR) -> None:
    page.goto("/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def labelled(text: str) -> re.Pattern[str]:
    """A field's label exactly, with or without the asterisk of a required field."""
    return re.compile(rf"^\s*{re.escape(text)}(\s*\*)?\s*$")


def go(page: Page, link: str) -> None:
    """Follow a link of the main navigation."""
    nav = page.get_by_role("navigation", name="Main")
    submit(page, nav.get_by_role("link", name=link, exact=True))


def switch_language(page: Page, code: str) -> None:
    page.get_by_label("Language").select_option(code)
    submit(page, page.get_by_role("button", name="Switch"))


def this_year() -> int:
    return datetime.now(UTC).year


def read_balance(page: Page, year: int, partner: str | None = None) -> tuple[int, int | None]:
    """The reports page for `year`, reached as a person would (the year field, Show):
    copies sent to all partners, and to `partner` (None when it has no row)."""
    go(page, "Reports")
    page.get_by_label("Year").fill(str(year))
    submit(page, page.get_by_role("button", name="Show"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Reports for {year}")
    rows = read_table(page.get_by_role("table", name=f"Exchange with each partner in {year}"))
    mine = rows.get(partner) if partner else None
    return (
        number(rows["All partners"]["Copies sent"]),
        number(mine["Copies sent"]) if mine else None,
    )


# ------------------------------------------------------------------ the journey


def test_coordinator_journey(page: Page, site: Site, db: Database, broken: list[str]) -> None:
    """Sign in, add a partner (after a refused country), start an outgoing shipment, add
    two books by ISBN alone (after a refused ISBN), pack and dispatch it, find its copies
    in the year's balance, and read the dashboard in Russian."""
    with db.session() as session:
        titles = [catalogue.by_isbn(session, isbn).title for isbn in ISBNS]  # type: ignore[union-attr]
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        screenshot(page, f"journey-{next(shots):02d}-{name}")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=(/|%2F)$"))
    shot("sign-in")
    page.get_by_label("User name").fill(COORDINATOR)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    shot("dashboard")

    year = this_year()
    sent_before, _ = read_balance(page, year)

    # A partner: the country left unchosen is asked for beside its field, what was typed kept.
    partner = "Ankara Test Kütüphanesi"
    go(page, "Partners")
    shot("partners")
    submit(page, page.get_by_role("link", name="Add a partner"))
    page.get_by_label(labelled("Name")).fill(partner)
    page.get_by_label("Kind").select_option(label="university library")
    page.get_by_label("City").fill("Ankara")
    submit(page, page.get_by_role("button", name="Add the partner"))
    country = page.get_by_label(labelled("Country"))
    expect(page.locator("#e-country")).to_be_visible()
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(country).to_have_attribute("aria-describedby", re.compile(r"\be-country\b"))
    expect(country).to_have_value("")
    expect(page.get_by_label(labelled("Name"))).to_have_value(partner)
    expect(page.get_by_label("City")).to_have_value("Ankara")
    expect(page.get_by_label("Kind")).to_have_value("university")
    expect(page.get_by_role("alert")).to_contain_text("Some fields need attention")
    shot("partner-form-error")
    country.select_option("TR")
    submit(page, page.get_by_role("button", name="Add the partner"))
    expect(page.get_by_role("heading", level=1)).to_have_text(partner)
    expect(page.get_by_role("status")).to_have_text("Partner added.")
    shot("partner")

    # An outgoing shipment to it, started from its page.
    submit(page, page.get_by_role("link", name="New outgoing shipment"))
    expect(page.get_by_label("Direction")).to_have_value("outgoing")
    expect(page.get_by_label("Partner")).to_have_value(re.compile(r"^\d+$"))
    expect(page.get_by_label("Partner").locator("option:checked")).to_have_text(f"{partner} (TR)")
    shot("shipment-form")
    submit(page, page.get_by_role("button", name="Start the shipment"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("draft")
    shipment_url = page.url

    # Items by ISBN alone: a malformed one is refused beside the field, kept as typed.
    isbn = page.get_by_label("ISBN", exact=True)
    isbn.fill("978-99522-0531")
    submit(page, page.get_by_role("button", name="Add the item"))
    expect(page.locator("#e-isbn")).to_be_visible()
    expect(isbn).to_have_attribute("aria-invalid", "true")
    expect(isbn).to_have_value("978-99522-0531")
    shot("shipment-item-error")
    items = page.get_by_role("region", name="Items")
    for number_typed, title in zip(ISBNS, titles, strict=True):
        isbn.fill(number_typed)
        expect(page.get_by_label("Title", exact=True)).to_have_value("")
        submit(page, page.get_by_role("button", name="Add the item"))
        expect(page.get_by_role("status")).to_contain_text(title)
        expect(
            items.get_by_role("cell", name=f"{title} (in the catalogue)", exact=True)
        ).to_be_visible()
    rows = read_table(items.get_by_role("table"))
    assert set(rows) == {f"{title} (in the catalogue)" for title in titles}, rows
    copies = sum(number(row["Copies"]) for row in rows.values())
    assert copies == len(ISBNS)  # one copy each: the form's default
    shot("shipment")

    # Packed, then dispatched, with the step buttons.
    for action, state in (("Mark as packed", "packed"), ("Mark as dispatched", "dispatched")):
        submit(page, page.get_by_role("button", name=action))
        expect(page.get_by_role("status")).to_have_text(f"The shipment is now {state}.")
        expect(page.get_by_role("heading", level=1)).to_contain_text(state)
    submit(page, page.get_by_role("link", name="Packing list"))
    contents = read_table(page.get_by_role("table", name="Contents"))
    assert [row["Title"] for key, row in contents.items() if key != "Total"] == titles
    assert number(contents["Total"]["Copies"]) == copies
    shot("packing-list")
    submit(page, page.get_by_role("link", name="Back to the shipment"))
    assert page.url == shipment_url

    # The year's balance counts them: for the partner, and in all partners' total.
    sent_after, sent_to_partner = read_balance(page, year, partner)
    assert sent_to_partner == copies
    assert sent_after - sent_before == copies
    shot("reports")
    go(page, "Shipments")
    expect(page.get_by_role("cell", name=partner)).to_be_visible()
    shot("shipments")
    go(page, "Harvesting")
    expect(page.get_by_role("link", name="partner-catalogue")).to_be_visible()
    shot("harvesting")

    # Russian: the page says so, and speaks it (dates from CLDR; words from the catalogue).
    go(page, "Dashboard")
    switch_language(page, "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#language-choice option:checked")).to_have_text("Русский")
    russian_date = re.compile(r"\b\d{1,2} [\u0430-\u044f\u0451]{3,5}\. \d{4}")  # 23 нояб. 2026
    expect(page.get_by_role("main")).to_contain_text(russian_date)
    shot("dashboard-ru")
    links = page.get_by_role("banner").get_by_role("navigation").get_by_role("link")
    labels = links.all_inner_texts()
    assert labels[0] == "libfed" and len(labels) == 8, labels
    english = {
        "Dashboard",
        "Partners",
        "Shipments",
        "Reports",
        "Catalogue search",
        "Harvesting",
        "Sets",
    }
    assert not english & set(labels), f"still in English on the Russian dashboard: {labels}"
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Dashboard")
    assert not broken, broken


# ------------------------------------------------------------------ accessibility


def _sign_in_page(page: Page, site: Site) -> None:
    page.goto("/sign-in")


def _path(path: str) -> Callable[[Page, Site], None]:
    def visit(page: Page, site: Site) -> None:
        sign_in(page)
        page.goto(path.format(site=site))

    return visit


def _partner_form_error(page: Page, site: Site) -> None:
    sign_in(page)
    page.goto("/partners/new")
    page.get_by_label(labelled("Name")).fill("No country")
    submit(page, page.get_by_role("button", name="Add the partner"))
    expect(page.locator("#e-country")).to_be_visible()


def _dashboard_ru(page: Page, site: Site) -> None:
    sign_in(page)
    switch_language(page, "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")


PAGES: dict[str, Callable[[Page, Site], None]] = {
    "sign-in": _sign_in_page,
    "dashboard": _path("/"),
    "partners": _path("/partners"),
    "partner": _path("/partners/{site.partner}"),
    "partner-form-error": _partner_form_error,
    "shipments": _path("/shipments"),
    "shipment-form": _path("/shipments/new"),
    # A draft, with the catalogue search answered: every control the page can show.
    "shipment": _path("/shipments/{site.draft_shipment}?q=Nizami"),
    "packing-list": _path("/shipments/{site.sent_shipment}/packing-list"),
    "reports": _path("/reports?year=" + str(this_year())),
    "harvesting": _path("/harvesting"),
    "harvest-source": _path("/harvesting/partner-catalogue"),
    "harvest-run": _path("/harvesting/runs/1"),
    # Results with holdings and the filters chosen; then a filter sent back with its error.
    "search": _path("/search?q=Nizami&source=local&year_from=1900"),
    "search-error": _path("/search?q=Nizami&year_from=abc"),
    "agreement-form": _path("/partners/{site.partner}/agreements/new"),
    # The demo's editions with their checkboxes; a filter sent back with its error.
    "offer-list": _path("/partners/{site.partner}/offer-list"),
    "offer-list-error": _path("/partners/{site.partner}/offer-list?year_from=abc"),
    "desiderata": _path("/partners/{site.partner}/desiderata?since=1900"),
    "dashboard-ru": _dashboard_ru,
}


@pytest.mark.parametrize("name", PAGES)
def test_page_accessibility(page: Page, site: Site, broken: list[str], name: str) -> None:
    """axe-core finds nothing wrong with names, roles, contrast, title, language or ids
    (on the page as styled: its stylesheet and scripts must have loaded)."""
    PAGES[name](page, site)
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert not broken, broken
    screenshot(page, name)
    ours, others = axe_violations(page)
    assert not ours + others, f"axe on {name} ({page.url}):\n  " + "\n  ".join(ours + others)
    assert not duplicate_ids(page)


# ------------------------------------------------------------------ keyboard


def test_sign_in_with_the_keyboard(page: Page) -> None:
    """Tab: the skip link first, then name, password and the button in that order; the
    skip link leads into the form; Enter in the password field signs in."""
    page.goto("/sign-in")
    walk = tab_walk(page, 20)
    ids = [element["id"] for element in walk]
    assert walk[0]["tag"] == "a" and walk[0]["name"] == "Skip to content", walk[0]
    assert walk[0]["inViewport"], "the skip link stays off screen when it has the focus"
    button_index = next(
        i
        for i, element in enumerate(walk)
        if element["tag"] == "button" and element["name"].strip() == "Sign in"
    )
    assert ids.index("f-name") < ids.index("f-password") < button_index, ids

    # The skip link goes to the content: the next Tab is the name field.
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert (focused(page) or {}).get("id") == "f-name"

    page.keyboard.type(COORDINATOR)
    page.keyboard.press("Tab")
    assert (focused(page) or {}).get("id") == "f-password"
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_shipment_page_with_the_keyboard(page: Page, site: Site) -> None:
    """Every control of a draft's page is reached with Tab, each showing a focus ring."""
    sign_in(page)
    page.goto(f"/shipments/{site.draft_shipment}?q=Nizami")
    expect(page.get_by_role("table", name="Records found")).to_be_visible()
    expect(page.get_by_role("button", name="Add the item")).to_be_visible()
    controls = tag_focusables(page)
    assert len(controls) > 20
    walk = tab_walk(page, limit=len(controls) * 6 + 20)
    reached = {element["key"] for element in walk}
    missed = [html for key, html in enumerate(controls) if str(key) not in reached]
    assert not missed, "not reachable with Tab:\n  " + "\n  ".join(missed)
    unringed = [
        element["html"]
        for element in walk
        if not element["focusVisible"]
        or element["outlineStyle"] == "none"
        or element["outlineWidth"] <= 0
    ]
    assert not unringed, "no visible focus outline:\n  " + "\n  ".join(unringed)
    assert all(element["inViewport"] for element in walk), "focus outside the viewport"


# ------------------------------------------------------------------ a hostile harvested record

# oai_dc as a partner's server could send it, and a harvester before this check stored
# it: XHTML that runs when a browser renders the XML itself, and HTML as text that runs
# if a page writes it unescaped; either with the coordinator's cookies, telling /pwned
# (which does not exist) that it ran.
ESCAPED_HTML = "<img src=/no-such-image onerror=\"window.pwned = 'text'; fetch('/pwned?text')\">"
HOSTILE_DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>Zərərli qeyd</dc:title>"
    f"<dc:subject>{escape(ESCAPED_HTML)}</dc:subject>"
    "<dc:description>Before the script. "
    '<h:script xmlns:h="http://www.w3.org/1999/xhtml">window.pwned = "script"; '
    "document.title = 'pwned'; fetch('/pwned?cookie=' + document.cookie)</h:script>"
    '<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="/no-such-image" '
    "onerror=\"window.pwned = 'onerror'; fetch('/pwned?img')\"/>"
    " After the image.</dc:description></oai_dc:dc>"
)


@pytest.fixture
def hostile_record(db: Database) -> str:
    """The record, stored as the harvester stores a partner's: its identifier here."""
    identifier = harvested_identifier(REPOSITORY_ID, "partner-catalogue", "oai:opac:666")
    with db.write() as session:
        store(session, [NewRecord.of(identifier, {"oai_dc": HOSTILE_DC})])
    return identifier


@pytest.fixture
def signals(page: Page) -> list[str]:
    """Every request the record's script or image handler would make, were they run."""
    made: list[str] = []

    def note(request: Request) -> None:
        if "/pwned" in request.url:
            made.append(request.url)

    page.on("request", note)
    return made


def ran_nothing(page: Page, signals: list[str]) -> None:
    assert page.evaluate("window.pwned") is None
    assert page.title() != "pwned"
    assert not signals


def test_a_hostile_record_is_shown_as_text(
    page: Page, site: Site, hostile_record: str, signals: list[str], broken: list[str]
) -> None:
    """The record's link from the search page, opened by a signed-in coordinator: the XSLT
    shows its fields as text, styled by its own stylesheet, and nothing of it runs."""
    sign_in(page)
    response = page.goto(get_record_url(f"{site.url}/oai", hostile_record))
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    expect(page.get_by_role("heading", level=1)).to_have_text("GetRecord")
    fields = read_table(page.get_by_role("table", name="Dublin Core"))
    assert fields["title"]["Value"] == "Zərərli qeyd"
    assert fields["subject"]["Value"] == ESCAPED_HTML
    assert fields["description"]["Value"].startswith("Before the script. window.pwned")
    assert fields["description"]["Value"].endswith("After the image.")
    expect(page.locator("img")).to_have_count(0)
    assert page.title() == "GetRecord · OAI-PMH"
    # The page's stylesheet (oai2.css) applies: allowed by the policy, as the XSLT is.
    header = page.locator("header")
    expect(header).to_have_css("background-color", "rgb(18, 38, 63)")
    assert not [line for line in broken if "oai2" in line], broken
    screenshot(page, "oai-hostile-record")
    ran_nothing(page, signals)
    # axe finds nothing wrong with the page the XSLT makes; only with the notice that
    # Chromium lays over it (outside any landmark).
    ours, others = axe_violations(page)
    assert not ours, ours
    assert all("xslt-warning-banner" in line for line in others), others


def test_without_xslt_the_policy_alone_keeps_a_hostile_record_from_running(
    page: Page, site: Site, hostile_record: str, signals: list[str], broken: list[str]
) -> None:
    """Browsers are dropping XSLT (Chromium says so in its console). One that shows the
    XML itself makes the record's XHTML live: its <script> and onerror are then stopped
    by the Content-Security-Policy and by nothing else."""
    sign_in(page)

    def without_stylesheet(route: Route) -> None:
        answer = route.fetch()
        headers = {
            name: value
            for name, value in answer.headers.items()
            if name.lower() not in ("content-encoding", "content-length")
        }
        body = re.sub(rb"<\?xml-stylesheet[^>]*\?>\n", b"", answer.body())
        route.fulfill(status=answer.status, headers=headers, body=body)

    page.route(re.compile(r"/oai\?"), without_stylesheet)
    page.goto(get_record_url(f"{site.url}/oai", hostile_record))
    expect(page.locator("img")).to_have_count(1)  # the record's XHTML is live
    ran_nothing(page, signals)
    refused = [line for line in broken if "Content Security Policy" in line]
    assert any("inline script" in line for line in refused), broken
    assert any("inline event handler" in line for line in refused), broken
