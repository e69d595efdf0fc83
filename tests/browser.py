"""Helpers of the browser tests: launching Debian's Chromium, where artifacts go, reading
pages as a person would (tables, focus), and axe-core's verdict on a page.

Playwright cannot download its own browsers here: the tests drive /usr/bin/chromium
(`make browser` installs it). Artifacts (screenshots) go to $LIBFED_ARTIFACTS, a path
relative to the project root unless absolute, by default <root>/artifacts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LIBFED_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# A page, or a wait for one, that takes longer than this is a failure, not a slow machine.
TIMEOUT_MS = 10_000
# The two screens every page must fit: a phone, and a common laptop.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)


# ------------------------------------------------------------------ fixtures
# A test module imports the ones it uses (`from browser import browser, page, ...`); one
# Chromium serves all the tests of a module, each test in a fresh profile.


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs it)")
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch(playwright)
    yield launched
    launched.close()


def new_page(
    browser: Browser, base_url: str, viewport: dict[str, int] = DESKTOP, **options: Any
) -> Page:
    """A page in a fresh browser profile (no cookies) that asks for English unless `options`
    say otherwise, and wants no animation (charts drawn at once, so screenshots show their
    final state). Close it with `page.context.close()`."""
    settings = {"locale": "en-US", "reduced_motion": "reduce", "viewport": viewport} | options
    context = browser.new_context(base_url=base_url, **settings)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def site_url(live_server: str, web_users: dict[str, str]) -> str:
    """The app on loopback (its pages, not /oai), with conftest's users signed up."""
    return live_server.removesuffix("/oai")


@pytest.fixture
def page(browser: Browser, site_url: str) -> Iterator[Page]:
    """An English page at a desktop's width, in a fresh profile."""
    opened = new_page(browser, site_url)
    yield opened
    opened.context.close()


# ------------------------------------------------------------------ artifacts


def artifacts_dir() -> Path:
    configured = os.environ.get("LIBFED_ARTIFACTS", "").strip()
    path = Path(configured) if configured else ROOT / "artifacts"
    return path if path.is_absolute() else ROOT / path


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the page shows now, as artifacts/screenshots/<name>.png."""
    folder = artifacts_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ------------------------------------------------------------------ what every page owes


def accessible(page: Page, name: str) -> None:
    """axe-core finds nothing wrong with the page as it is now, and no id repeats."""
    ours, others = axe_violations(page)
    assert not ours + others, f"axe on {name}:\n  " + "\n  ".join(ours + others)
    twice = duplicate_ids(page)
    assert not twice, f"ids used twice on {name}: {twice}"


_TOO_WIDE_JS = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right
               <= window.innerWidth + 1)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (e.className ? '.' + e.className : '') + ' '
            + Math.round(e.getBoundingClientRect().right))"""


def fits_window(page: Page, name: str) -> None:
    """The page itself never scrolls sideways: it is no wider than the window. A chart
    redraws at a new width a moment after the window changes, so a page gets that moment;
    one still too wide then is named with the elements that reach past the edge."""
    fits = "() => document.documentElement.scrollWidth <= window.innerWidth"
    with suppress(PlaywrightTimeout):
        page.wait_for_function(fits, timeout=3000)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], (
        f"{name} at {width[1]} px is {width[0]} px wide: {page.evaluate(_TOO_WIDE_JS)}"
    )


def checked(page: Page, name: str, forms: tuple[str, ...] = ()) -> None:
    """What every page owes a person, checked on the page as it is now: a heading, nothing
    axe-core finds wrong, no id twice, no sideways scroll at a desktop's 1366 px nor at a
    phone's 390 px, where the `forms` (CSS selectors) too stay within the phone's width.
    Screenshots at both widths, artifacts/screenshots/<name>.png and <name>-390.png."""
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    accessible(page, name)
    page.set_viewport_size(DESKTOP)
    fits_window(page, name)
    screenshot(page, name)
    page.set_viewport_size(PHONE)
    fits_window(page, name)
    for form in forms:
        box = page.locator(form).bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], (form, box)
    screenshot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)


# ------------------------------------------------------------------ reading pages


def submit(page: Page, control: Locator) -> None:
    """Activate a control that loads another page, and wait until that page has loaded."""
    with page.expect_navigation(wait_until="load"):
        control.click()


_TABLE_JS = """table => {
    const text = cell => cell.innerText.replace(/\\s+/g, ' ').trim();
    const expand = row => [...row.cells].flatMap(
        cell => [text(cell), ...Array(Math.max(cell.colSpan - 1, 0)).fill('')]);
    const headings = expand(table.tHead.rows[table.tHead.rows.length - 1]);
    const rows = {};
    for (const body of [...table.tBodies, ...(table.tFoot ? [table.tFoot] : [])]) {
        for (const row of body.rows) {
            const cells = expand(row);
            const named = {};
            headings.forEach((heading, i) => { named[heading] = cells[i] ?? ''; });
            rows[cells[0]] = named;
        }
    }
    return rows;
}"""


def read_table(table: Locator) -> dict[str, dict[str, str]]:
    """A table as a person reads it: first cell of a row -> column heading -> cell text
    (a cell spanning columns fills the first of them)."""
    return table.evaluate(_TABLE_JS)


def number(text: str) -> int:
    """A count as the pages print it, in any of their languages' digit grouping."""
    digits = re.sub(r"[^\d-]", "", text)
    assert digits, f"no number in {text!r}"
    return int(digits)


# ------------------------------------------------------------------ keyboard

# What a person can reach with Tab: what is focusable, shown, and not taken out of the order.
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"
)

_TAG_JS = """selector => {
    const shown = el => {
        const style = getComputedStyle(el);
        return style.visibility !== 'hidden' && style.display !== 'none'
            && el.getClientRects().length > 0;
    };
    const found = [...document.querySelectorAll(selector)].filter(shown);
    found.forEach((el, i) => el.setAttribute('data-tab-key', String(i)));
    return found.map(el => el.outerHTML.slice(0, 160));
}"""

_FOCUSED_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
        key: el.getAttribute('data-tab-key'),
        id: el.id,
        tag: el.tagName.toLowerCase(),
        name: el.getAttribute('aria-label') || el.innerText || el.value || el.name || '',
        html: el.outerHTML.slice(0, 160),
        // A date field's calendar button has the focus inside the field's own shadow
        // tree: the field is then :focus-within, and it is the field that shows it.
        focusVisible: el.matches(':focus-visible')
            || (!el.matches(':focus') && el.matches(':focus-within')),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
        inViewport: box.right > 0 && box.bottom > 0
            && box.left < window.innerWidth && box.top < window.innerHeight,
    };
}"""


def tag_focusables(page: Page) -> list[str]:
    """Number every element a person could Tab to (attribute data-tab-key); their HTML."""
    return page.evaluate(_TAG_JS, FOCUSABLE)


def focused(page: Page) -> dict[str, Any] | None:
    """What has the keyboard focus, with how its focus is drawn; None for the page itself."""
    return page.evaluate(_FOCUSED_JS)


def tab_walk(page: Page, limit: int) -> list[dict[str, Any]]:
    """Press Tab from where the focus is until it leaves the page (or `limit` presses):
    each element focused on the way, once per press (a date field's parts repeat it)."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is None:
            if seen:
                break
            continue
        seen.append(now)
    return seen


# ------------------------------------------------------------------ axe-core

# The rules this project holds every page to: names of controls, links and images,
# ARIA roles and attributes, contrast, title and language of the page, unique ids.
A11Y_RULES = frozenset(
    {
        "label",
        "select-name",
        "button-name",
        "input-button-name",
        "link-name",
        "image-alt",
        "role-img-alt",
        "svg-img-alt",
        "input-image-alt",
        "area-alt",
        "aria-roles",
        "aria-allowed-role",
        "aria-required-children",
        "aria-required-parent",
        "aria-required-attr",
        "aria-valid-attr",
        "aria-valid-attr-value",
        "aria-allowed-attr",
        "aria-prohibited-attr",
        "aria-hidden-focus",
        "aria-input-field-name",
        "aria-command-name",
        "aria-toggle-field-name",
        "color-contrast",
        "document-title",
        "html-has-lang",
        "html-lang-valid",
        "valid-lang",
        "duplicate-id",
        "duplicate-id-active",
        "duplicate-id-aria",
    }
)
# axe-core 4.7+ switched the duplicate-id rules off by default (deprecated): on again.
_AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {
        rule: {"enabled": True}
        for rule in ("duplicate-id", "duplicate-id-active", "duplicate-id-aria")
    },
}


def describe(violation: dict) -> list[str]:
    """One line per element: rule, where (CSS selector), what axe says, the element."""
    return [
        f"{violation['id']} at {' '.join(map(str, node['target']))}: "
        f"{node.get('failureSummary', '').strip().splitlines()[-1].strip()} -- "
        f"{node['html'][:200]}"
        for node in violation["nodes"]
    ]


def axe_violations(page: Page) -> tuple[list[str], list[str]]:
    """axe-core on the page as it is now: (violations of A11Y_RULES, any others)."""
    result = Axe().run(page, options=_AXE_OPTIONS)
    ours, others = [], []
    for violation in result.response["violations"]:
        (ours if violation["id"] in A11Y_RULES else others).extend(describe(violation))
    return ours, others


def duplicate_ids(page: Page) -> list[str]:
    """Ids used more than once in the page (checked directly too: axe's rule is deprecated)."""
    return page.evaluate("""() => {
        const counts = {};
        document.querySelectorAll('[id]').forEach(el => { counts[el.id] = (counts[el.id] || 0) + 1; });
        return Object.keys(counts).filter(id => counts[id] > 1);
    }""")
