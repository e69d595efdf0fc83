"""Many items at once on a shipment's page, through HTTP as a browser sends them: a pasted
list, a spreadsheet (CSV, XLSX), the scanner's one ISBN at a time, copies changed on a
line; and what a hostile or careless file gets: a refusal by line, nothing stored."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from stdnum import ean
from stdnum import isbn as stdnum_isbn

from libfed.exchange import bulk
from libfed.records.importer import import_files
from tests.conftest import REPOSITORY_ID, ROOT, WebClient, add_partner

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"
# A book of the demo catalogue, by the ISBN on its record.
KNOWN = "9789952205312"
KNOWN_TITLE = "Yeddi gözəl"


def isbns(count: int, start: int = 0) -> list[str]:
    """Valid ISBN-13s that no demo record carries."""
    made = []
    for number in range(start, start + count):
        stem = f"978000{number:06d}"
        made.append(stem + ean.calc_check_digit(stem))
    return made


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    import_files(db, REPOSITORY_ID, [Path(DEMO)])


@pytest.fixture
def shipment(pages: WebClient, api) -> int:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    response = pages.post("/shipments/new", {"direction": "outgoing", "partner_id": partner["id"]})
    assert response.status_code == 303
    return int(re.search(r"/shipments/(\d+)$", response.headers["Location"]).group(1))


def items(api, shipment: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return api.get(f"/shipments/{shipment}/items").get_json()["items"]


def scanned_line(pages: WebClient, api, shipment: int) -> dict:  # type: ignore[no-untyped-def]
    """The one line an empty draft has after a book the catalogue lacks is scanned."""
    pages.post(f"/shipments/{shipment}/items/scan", {"isbn": isbns(1)[0]})
    (item,) = items(api, shipment)
    return item


def upload(pages: WebClient, shipment: int, name: str, data: bytes, **kwargs):  # type: ignore[no-untyped-def]
    return pages.post(
        f"/shipments/{shipment}/items/import",
        {"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        **kwargs,
    )


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def refusals(response) -> list[str]:  # type: ignore[no-untyped-def]
    block = re.search(r'role="alert" id="e-\w+">(.*?)</div>', response.get_data(as_text=True), re.S)
    assert block, "no refusal shown"
    return [
        re.sub(r"\s+", " ", item).strip()
        for item in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)
    ]


# ------------------------------------------------------------------ pasted lists


def test_a_pasted_list_becomes_lines_with_titles_from_the_catalogue(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int, catalogue
) -> None:
    unknown = isbns(3)
    text = "\n".join([f"{KNOWN}\t4", unknown[0], "", f"{unknown[1]};2;Bizim kitab", unknown[2]])
    response = pages.post(f"/shipments/{shipment}/items/paste", {"lines": text})
    assert response.status_code == 303, refusals(response)
    lines = {item["isbn"]: item for item in items(api, shipment)}
    assert lines[KNOWN]["title"] == KNOWN_TITLE and lines[KNOWN]["copies"] == 4
    assert lines[KNOWN]["record_identifier"] == f"oai:{REPOSITORY_ID}:AZLIB-D0001"
    assert lines[unknown[1]]["title"] == "Bizim kitab" and lines[unknown[1]]["copies"] == 2
    # A book the catalogue lacks is titled by its ISBN, the same in every language.
    assert lines[unknown[0]]["title"] == "ISBN " + stdnum_isbn.format(unknown[0])
    shipment_json = api.get(f"/shipments/{shipment}").get_json()
    assert (shipment_json["titles"], shipment_json["copies"]) == (4, 8)
    page = pages.text(f"/shipments/{shipment}")
    assert "4 lines added or given more copies." in page


def test_an_isbn_listed_again_adds_copies_to_its_line(pages: WebClient, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    one, two = isbns(2)
    assert (
        pages.post(
            f"/shipments/{shipment}/items/paste", {"lines": f"{one}\n{two}\n{one} 3"}
        ).status_code
        == 303
    )
    assert pages.post(f"/shipments/{shipment}/items/paste", {"lines": one}).status_code == 303
    lines = {item["isbn"]: item["copies"] for item in items(api, shipment)}
    assert lines == {one: 5, two: 1}
    history = api.get(f"/shipments/{shipment}/history").get_json()["events"]
    assert [e["action"] for e in history if e["entity"] == "item"] == [
        "create",
        "create",
        "update",
        "update",
    ]


def test_a_bad_line_is_named_by_its_number_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    good = isbns(3)
    bad = good[1][:-1] + str((int(good[1][-1]) + 1) % 10)  # a wrong check digit
    text = f"{good[0]}\n\n{bad}\n{good[2]}\t0"
    response = pages.post(f"/shipments/{shipment}/items/paste", {"lines": text})
    assert response.status_code == 422
    said = refusals(response)
    assert len(said) == 2, said
    assert said[0].startswith("Line 3: ISBN:") and "is not a valid ISBN" in said[0]
    assert said[1] == "Line 4: Copies: must be at least 1"
    assert items(api, shipment) == []
    # What was typed comes back for correction, in the field the refusal describes.
    page = response.get_data(as_text=True)
    assert f">{text}</textarea>" in page
    assert re.search(r'<textarea id="f-lines"[^>]*aria-invalid="true"', page)


def test_an_empty_list_or_scan_adds_nothing_and_says_so(
    pages: WebClient, api, shipment: int
) -> None:  # type: ignore[no-untyped-def]
    for path, data in (("paste", {"lines": "\n  \n"}), ("scan", {"isbn": " "})):
        response = pages.post(f"/shipments/{shipment}/items/{path}", data)
        assert response.status_code == 422
        assert refusals(response) == ["there is nothing to add"]
    assert items(api, shipment) == []


def test_too_many_lines_are_refused_whole(pages: WebClient, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(isbns(bulk.MAX_LINES + 1))
    response = pages.post(f"/shipments/{shipment}/items/paste", {"lines": text})
    assert response.status_code == 422
    assert refusals(response) == ["at most 2000 lines at once"]
    assert items(api, shipment) == []


def test_a_long_list_with_titles_is_read_and_a_list_too_large_refused(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    title = "Kitab " + "ə" * 400  # 2,000 lines of these: more than a form's usual 500 kB
    text = "\n".join(f"{isbn};1;{title}" for isbn in isbns(bulk.MAX_LINES))
    assert len(text.encode()) > 1024 * 1024
    response = pages.post(f"/shipments/{shipment}/items/paste", {"lines": text})
    assert response.status_code == 303
    assert len(items(api, shipment)) == bulk.MAX_LINES
    response = pages.post(
        f"/shipments/{shipment}/items/paste", {"lines": "x" * (bulk.MAX_FILE_BYTES + 100_000)}
    )
    assert response.status_code == 413
    assert refusals(response) == ["the list is larger than 5 MiB"]


def test_a_list_needs_the_forms_csrf_token(app, web_users, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    web = WebClient(app.test_client())
    web.sign_in(web_users["coordinator"])
    response = web.client.post(f"/shipments/{shipment}/items/paste", data={"lines": isbns(1)[0]})
    assert response.status_code == 400
    assert items(api, shipment) == []


def test_the_refusals_are_in_the_pages_language(pages: WebClient, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    """Waits for the translations' merge: the Russian words come from the catalogue."""
    pages.in_language("ru")
    response = pages.post(f"/shipments/{shipment}/items/paste", {"lines": "\n978000000000X"})
    assert response.status_code == 422
    (said,) = refusals(response)
    assert said.startswith("Строка 2: ISBN:"), said


# ------------------------------------------------------------------ the scanner


def test_the_scanner_adds_a_copy_to_the_line_of_a_book_scanned_again(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    one, two = isbns(2)
    for scanned in (one, two, stdnum_isbn.format(one)):
        response = pages.post(f"/shipments/{shipment}/items/scan", {"isbn": scanned})
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/shipments/{shipment}?scan=1")
    assert {item["isbn"]: item["copies"] for item in items(api, shipment)} == {one: 2, two: 1}
    page = pages.text(f"/shipments/{shipment}?scan=1")
    assert re.search(r'<input id="f-scan"[^>]*\bautofocus>', page, re.S)
    assert "2 copies on its line." in page
    # Without the scanner's return, the page does not take the focus to the scanner field.
    assert not re.search(r'id="f-scan"[^>]*autofocus', pages.text(f"/shipments/{shipment}"), re.S)


def test_a_bad_scan_is_refused_and_named_with_the_field_ready_for_the_next(
    pages: WebClient, api, shipment: int
) -> None:  # type: ignore[no-untyped-def]
    response = pages.post(f"/shipments/{shipment}/items/scan", {"isbn": "12345"})
    assert response.status_code == 422
    (said,) = refusals(response)
    assert said == "ISBN: &#39;12345&#39; is not a valid ISBN", said
    # The field comes back empty, for the next scan not to be typed after the bad one.
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-scan"[^>]*value=""[^>]*aria-invalid="true"[^>]*autofocus', page, re.S)
    assert items(api, shipment) == []


# ------------------------------------------------------------------ spreadsheets


def test_an_xlsx_is_read_by_its_headings_in_any_language(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int, catalogue
) -> None:
    one, two = isbns(2)
    data = xlsx(
        [
            ["Заглавие", "ISBN", "Количество", "Год", "Unit value", "currency"],
            ["Kitab bir", int(one), 2, 2021, 12.5, "AZN"],
            [None, KNOWN, None, None, None, None],
            [None, None, None, None, None, None],
            ["Kitab iki", two, "3", None, None, None],
        ]
    )
    response = upload(pages, shipment, "list.xlsx", data)
    assert response.status_code == 303, refusals(response)
    lines = {item["isbn"]: item for item in items(api, shipment)}
    assert lines[one]["title"] == "Kitab bir" and lines[one]["year"] == 2021
    assert (lines[one]["copies"], lines[one]["unit_value"], lines[one]["currency"]) == (
        2,
        "12.50",
        "AZN",
    )
    assert lines[KNOWN]["title"] == KNOWN_TITLE and lines[KNOWN]["copies"] == 1
    assert lines[two]["copies"] == 3


def test_a_bad_spreadsheet_row_is_named_by_its_row_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    one, two = isbns(2)
    data = xlsx([["ISBN", "Copies", "Year"], [one, 1, 2020], [two, "many", 2020], [one, 1, 3020]])
    response = upload(pages, shipment, "list.xlsx", data)
    assert response.status_code == 422
    said = refusals(response)
    assert said[0] == "Line 3: Copies: must be a whole number", said
    assert said[1].startswith("Line 4: Year: 3020 is not a publication year")
    assert items(api, shipment) == []


def test_a_csv_is_read_with_its_separator_and_the_pages_decimal_comma(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    pages.in_language("ru")
    one, two = isbns(2)
    text = f"isbn;title;copies;unit value;currency\n{one};Kitab;2;42,50;AZN\n{two};Başqa;1;;\n"
    response = upload(pages, shipment, "list.csv", ("\ufeff" + text).encode())
    assert response.status_code == 303, refusals(response)
    lines = {item["isbn"]: item for item in items(api, shipment)}
    assert lines[one]["unit_value"] == "42.50" and lines[two]["title"] == "Başqa"


@pytest.mark.parametrize(
    ("name", "data", "refusal"),
    [
        (
            "list.csv",
            "isbn;title\n9780000000002;Kitab\n".encode("cp1251") + "Книга".encode("cp1251"),
            "the file is not UTF-8 text",
        ),
        ("list.xlsx", b"isbn,title\n9780000000002,Kitab\n", "the file is not an XLSX workbook"),
        ("list.xlsx", b"PK\x03\x04 not really a zip", "the file is not an XLSX workbook"),
        ("list.csv", b"", "the file is empty"),
        ("list.csv", b"author;year\nX;2020\n", "the first row names no column of an item"),
    ],
)
def test_a_file_that_is_no_spreadsheet_is_refused_clearly(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int, name: str, data: bytes, refusal: str
) -> None:
    response = upload(pages, shipment, name, data)
    assert response.status_code == 422
    (said,) = refusals(response)
    assert said.startswith(refusal), said
    assert items(api, shipment) == []


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_it_is_opened(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (bulk.MAX_UNPACKED_BYTES + 1))
    assert len(packed.getvalue()) < 1024 * 1024
    response = upload(pages, shipment, "bomb.xlsx", packed.getvalue())
    assert response.status_code == 422
    assert refusals(response) == ["the workbook unpacks to too much data to be read"]


def test_an_oversized_file_is_refused_with_its_limit(pages: WebClient, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    data = b"isbn\n" + b"9780000000002\n" * (bulk.MAX_FILE_BYTES // 14 + 10)
    assert len(data) > bulk.MAX_FILE_BYTES
    response = upload(pages, shipment, "big.csv", data)
    assert response.status_code in (413, 422)
    assert refusals(response) == ["the file is larger than 5 MiB"]
    # Under the limit but over the application's usual body limit: read.
    one = isbns(1)[0]
    small = b"isbn\n" + (one.encode() + b"\n") * 100_000
    assert 1024 * 1024 < len(small) < bulk.MAX_FILE_BYTES
    response = upload(pages, shipment, "many.csv", small)
    assert refusals(response) == ["at most 2000 lines at once"]


def test_an_import_needs_the_forms_csrf_token(app, web_users, api, shipment: int) -> None:  # type: ignore[no-untyped-def]
    web = WebClient(app.test_client())
    web.sign_in(web_users["coordinator"])
    response = web.client.post(
        f"/shipments/{shipment}/items/import",
        data={"file": (io.BytesIO(b"isbn\n9780000000002\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert items(api, shipment) == []


# ------------------------------------------------------------------ copies on a line


def test_copies_are_changed_on_a_line_from_its_current_version(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    item = scanned_line(pages, api, shipment)
    path = f"/shipments/{shipment}/items/{item['id']}/copies"
    response = pages.post(path, {"copies": "6", "version": str(item["version"])})
    assert response.status_code == 303
    assert items(api, shipment)[0]["copies"] == 6
    assert api.get(f"/shipments/{shipment}").get_json()["copies"] == 6
    # From the page as it was before: refused as stale, nothing changed.
    pages.post(path, {"copies": "9", "version": str(item["version"])})
    assert items(api, shipment)[0]["copies"] == 6
    response = pages.post(path, {"copies": "0", "version": str(item["version"] + 1)})
    assert "Copies: must be at least 1" in pages.text(f"/shipments/{shipment}")
    assert items(api, shipment)[0]["copies"] == 6


def test_the_bulk_forms_are_offered_only_while_items_can_change(  # type: ignore[no-untyped-def]
    pages: WebClient, viewer_pages: WebClient, api, shipment: int
) -> None:
    page = pages.text(f"/shipments/{shipment}")
    for form in ('id="scan"', 'id="paste"', 'id="import"'):
        assert form in page
    assert 'id="paste"' not in viewer_pages.text(f"/shipments/{shipment}")
    assert (
        viewer_pages.post(f"/shipments/{shipment}/items/paste", {"lines": isbns(1)[0]}).status_code
        == 403
    )


def test_a_line_scanned_before_the_catalogue_knew_it_is_given_its_title(  # type: ignore[no-untyped-def]
    pages: WebClient, api, shipment: int
) -> None:
    item = scanned_line(pages, api, shipment)
    one = isbns(1)[0]  # the ISBN scanned_line scans
    path = f"/shipments/{shipment}/items/{item['id']}/edit"
    assert f'href="{path}"' in pages.text(f"/shipments/{shipment}")
    form = pages.text(path)
    assert re.search(r'id="f-title"[^>]*value="ISBN 978-0-00-000000-2"', form, re.S)
    typed = {
        "version": str(item["version"]),
        "title": "Azərbaycan xalçaları",
        "author": "Kərimov, Lətif",
        "isbn": one,
        "copies": "2",
        "unit_value": "12,50",
        "currency": "AZN",
    }
    pages.in_language("ru")
    response = pages.post(path, typed)
    assert response.status_code == 303
    (changed,) = items(api, shipment)
    assert (changed["title"], changed["author"], changed["copies"]) == (
        "Azərbaycan xalçaları",
        "Kərimov, Lətif",
        2,
    )
    assert (changed["unit_value"], changed["isbn"]) == ("12.50", one)
    # From the form as it was before that save: refused, what was typed shown again.
    stale = pages.post(path, {**typed, "title": "Başqa"})
    assert stale.status_code == 409
    assert 'value="Başqa"' in stale.get_data(as_text=True)
    assert items(api, shipment)[0]["title"] == "Azərbaycan xalçaları"
    refused = pages.post(path, {**typed, "version": str(changed["version"]), "title": ""})
    assert refused.status_code == 422
    assert 'id="e-title"' in refused.get_data(as_text=True)
