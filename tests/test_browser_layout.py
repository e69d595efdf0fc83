"""Every page fits the screen, in a real browser (Debian's Chromium): on a phone (390 px)
the page itself never scrolls sideways (a wide table scrolls inside its own box) and the
header stays short; on a desktop (1366 px) nothing is cut off, in every language of the
pages (libfed.web.i18n.LANGUAGES: a language added there is checked too). axe-core finds
nothing wrong on any page; screenshots of the key pages at both widths.

The pages are those test_web_walk reaches from the dashboard as an admin (same-origin
links, GET only, no downloads), with the pages known to hold the most, over the demo
programme and a harvested source; one browser and one server for each test.

"Cut off" is read as a person sees it: a piece of text, a field or a button that lies
past the page's edge (outside a box that scrolls), past the box it is written in, or in a
box that hides what overflows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import pytest
from browser import DESKTOP, PHONE, axe_violations, duplicate_ids, new_page, screenshot, submit
from conftest import PASSWORD, signed_in_as
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from test_browser import Site, migrated_template, site  # noqa: F401  (fixtures)
from test_web_walk import known_pages, received, walk  # noqa: F401  (a fixture)

from libfed.web.i18n import LANGUAGES

pytestmark = pytest.mark.slow

# The header on a phone: two short lines, not a screenful of menu.
HEADER_MAX_PX = 100
# Russian, the longest words; and Uzbek (Latin), the widest language menu and buttons.
PHONE_LANGUAGES = ("ru", "uz_Latn")
# Visited in the browser: the walk's first pages (it reaches about 80; the rest are more
# of the same kinds), to keep the test within a few minutes.
BROWSER_PAGES = 60
KEY_PAGES = ("dashboard", "shipment", "packing-list", "reports", "harvesting", "search")

# What overflows where a person would see it cut off: the page's own width; each text
# fragment, field and button against the page's edge unless a box that scrolls holds it,
# against the box it is laid out in, and inside a box that hides what overflows it.
# Hidden things (display none, a closed <details>, a 1-px label for screen readers, the
# skip link off the page's left edge until it has the focus) are left out. Text may overhang its box by a pixel or two (italics, kerning).
_FITS_JS = """() => {
    const width = document.documentElement.clientWidth;
    const slack = 2;
    const problems = [];
    const style = el => getComputedStyle(el);
    const scrolls = el => ['auto', 'scroll'].includes(style(el).overflowX);
    const clips = el => ['hidden', 'clip'].includes(style(el).overflowX);
    const unseen = el => {
        for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
            const s = style(e);
            if (s.display === 'none' || s.visibility === 'hidden') return true;
            const box = e.getBoundingClientRect();
            if (box.width <= 1 || box.height <= 1) return true;
            // Put out of sight on purpose until it has the focus (the skip link).
            if (['absolute', 'fixed'].includes(s.position) && box.right <= 0) return true;
            if (e.parentElement && e.parentElement.tagName === 'DETAILS'
                && !e.parentElement.open && e.tagName !== 'SUMMARY') return true;
        }
        return false;
    };
    const inScroller = el => {
        for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
            if (scrolls(e)) return true;
        }
        return false;
    };
    const clipper = el => {
        for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
            if (scrolls(e)) return null;
            if (clips(e)) return e;
        }
        return null;
    };
    const layoutBox = el => {
        let e = el;
        while (e.parentElement && ['inline', 'contents'].includes(style(e).display)) e = e.parentElement;
        return e;
    };
    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const check = (what, rect, el) => {
        if (!inScroller(el) && (rect.right > width + slack || rect.left < -slack)) {
            problems.push(`${what} past the page's edge (${Math.round(rect.left)}..${Math.round(rect.right)} of ${width} px) in ${name(el)}`);
        }
        const hider = clipper(el);
        if (hider) {
            const box = hider.getBoundingClientRect();
            if (rect.right > box.right + slack || rect.left < box.left - slack) {
                problems.push(`${what} hidden by ${name(hider)}, which cuts what overflows it`);
            }
        }
    };
    const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node; (node = texts.nextNode()); ) {
        const el = node.parentElement;
        if (!node.textContent.trim() || el.closest('script, style, select, textarea, noscript') || unseen(el)) continue;
        range.selectNodeContents(node);
        const box = layoutBox(el).getBoundingClientRect();
        const what = `"${node.textContent.trim().slice(0, 40)}"`;
        for (const rect of range.getClientRects()) {
            if (rect.width === 0) continue;
            if (rect.right > box.right + slack || rect.left < box.left - slack) {
                problems.push(`${what} overflows its ${name(layoutBox(el))} (${Math.round(rect.right)} > ${Math.round(box.right)} px)`);
            }
            check(what, rect, el);
        }
    }
    for (const el of document.body.querySelectorAll('input:not([type=hidden]), select, textarea, button, img, svg, canvas')) {
        if (unseen(el)) continue;
        check(name(el), el.getBoundingClientRect(), el);
    }
    const header = document.querySelector('body > header');
    return {
        scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
        width,
        header: header ? header.getBoundingClientRect().height : 0,
        problems: [...new Set(problems)],
    };
}"""


@pytest.fixture(scope="module")
def walked() -> dict[str, str]:
    """The pages to visit, found once for the module (every test's database is a copy of
    the same demo data, so every test's pages are the same)."""
    return {}


@pytest.fixture
def pages(
    walked: dict[str, str],
    app: Flask,
    web_users: dict[str, str],
    site: Site,  # noqa: F811
    received: int,  # noqa: F811
) -> dict[str, str]:
    """Name -> path of the pages to visit: the key pages by name, the others by path."""
    if walked:
        return walked
    found = walk(signed_in_as(app, web_users["admin"]), known_pages(site, received), BROWSER_PAGES)
    named = {
        "dashboard": "/",
        "shipment": f"/shipments/{site.draft_shipment}?q=Nizami",
        "packing-list": f"/shipments/{site.sent_shipment}/packing-list",
        "reports": "/reports",
        "harvesting": "/harvesting",
        "search": "/search?q=Nizami&source=local",
    }
    assert set(named.values()) <= set(found.pages), sorted(found.pages)
    by_path = {path: name for name, path in named.items()}
    walked.update({by_path.get(path, path): path for path in found.pages})
    return walked


@contextmanager
def open_as_admin(
    browser: Browser, url: str, admin: str, viewport: dict[str, int], language: str
) -> Iterator[Page]:
    """A page of the site at `url` signed in as the admin, in `language`, closed after use
    (the site of test_browser, or a node of the federation's tests)."""
    page = new_page(browser, url, viewport)
    try:
        page.goto("/sign-in")
        page.locator("#f-name").fill(admin)
        page.locator("#f-password").fill(PASSWORD)
        submit(page, page.locator("main button[type=submit]"))
        page.locator("#language-choice").select_option(language)
        submit(page, page.locator("form.language button[type=submit]"))
        expect(page.locator("html")).to_have_attribute("lang", language.replace("_", "-"))
        yield page
    finally:
        page.context.close()


def fits(page: Page) -> dict:
    page.wait_for_load_state("load")
    return page.evaluate(_FITS_JS)


def assert_every_page_fits(
    page: Page,
    language: str,
    pages: dict[str, str],
    axe_on: Callable[[str], bool],
    header_max_px: float | None = None,
) -> None:
    """Every page at the window's width: no sideways scroll, nothing cut off, the header no
    taller than `header_max_px` (if given), nothing axe-core or a repeated id finds wrong
    on the pages (by name) `axe_on` picks; the key pages photographed. Every wrong thing
    of every page named at once."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    wrong = []
    for name, path in pages.items():
        page.goto(path)
        found = fits(page)
        if found["scrollWidth"] > width:
            wrong.append(f"{path}: the page is {found['scrollWidth']} px wide")
        if header_max_px is not None and found["header"] > header_max_px:
            wrong.append(f"{path}: the header is {found['header']:.0f} px tall")
        wrong.extend(f"{path}: {problem}" for problem in found["problems"])
        if name in KEY_PAGES:
            screenshot(page, f"layout-{width}-{language}-{name}")
        if axe_on(name):
            ours, others = axe_violations(page)
            wrong.extend(f"{path}: axe: {line}" for line in ours + others)
            wrong.extend(f"{path}: id used twice: {id_}" for id_ in duplicate_ids(page))
    assert not wrong, f"at {width} px in {LANGUAGES[language]}:\n  " + "\n  ".join(wrong)


@pytest.fixture
def admin_page(
    request: pytest.FixtureRequest,
    browser: Browser,
    site: Site,  # noqa: F811
    web_users: dict[str, str],
) -> Iterator[tuple[Page, str]]:
    """The admin's page at the screen and in the language a test is parametrized with
    (indirectly: (viewport, language))."""
    viewport, language = request.param
    with open_as_admin(browser, site.url, web_users["admin"], viewport, language) as page:
        yield page, language


def on(screen: dict[str, int], languages: Iterable[str]) -> pytest.MarkDecorator:
    """Run a test with admin_page at `screen` once per language, named by the language."""
    codes = list(languages)
    return pytest.mark.parametrize(
        "admin_page", [(screen, code) for code in codes], indirect=True, ids=codes
    )


@on(PHONE, PHONE_LANGUAGES)
def test_every_page_fits_a_phone(admin_page: tuple[Page, str], pages: dict[str, str]) -> None:
    """At 390 px: the page never scrolls sideways, the header is at most two short lines,
    nothing is cut off; axe-core finds nothing wrong (Russian: every page)."""
    page, language = admin_page
    on_every_page = language == PHONE_LANGUAGES[0]
    assert_every_page_fits(page, language, pages, lambda _: on_every_page, HEADER_MAX_PX)


@on(DESKTOP, LANGUAGES)
def test_every_page_fits_a_desktop(admin_page: tuple[Page, str], pages: dict[str, str]) -> None:
    """At 1366 px, in every language: the page never scrolls sideways and nothing is cut
    off (a long Russian or Uzbek heading wraps); axe-core finds nothing wrong on the key
    pages in Uzbek (Cyrillic), or Russian where it is missing (every page had its turn on
    the phone)."""
    page, language = admin_page
    on_key_pages = language == ("uz_Cyrl" if "uz_Cyrl" in LANGUAGES else "ru")
    assert_every_page_fits(page, language, pages, lambda name: on_key_pages and name in KEY_PAGES)
