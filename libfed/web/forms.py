"""Between an HTML form and a service: typed values in, translated field errors out.

Forms send text; the services' input models are strict. The model's own schema
says which fields are numbers or flags, so one function serves every form.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel
from werkzeug.datastructures import MultiDict

from libfed.kernel.errors import Invalid
from libfed.kernel.paging import LAST_PAGE

from .i18n import translate


@cache  # a model's schema does not change; building it costs milliseconds
def _kinds(model: type[BaseModel]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for name, schema in model.model_json_schema()["properties"].items():
        options = schema.get("anyOf", [schema])
        kinds[name] = {option.get("type", "") for option in options}
    return kinds


def _typed(text: str, kinds: set[str]) -> Any:
    if "integer" in kinds and text.lstrip("-").isdigit():
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def form_values(
    model: type[BaseModel], form: MultiDict[str, str], *, blank: str = "omit"
) -> dict[str, Any]:
    """The model's fields present in the form. A blank field is left out (`blank="omit"`,
    for a new object: the default applies) or sent as None (`"clear"`, for a change)."""
    values: dict[str, Any] = {}
    for name, kinds in _kinds(model).items():
        if name not in form:
            continue
        text = form.get(name, "")
        if text.strip() == "":
            if blank == "clear":
                values[name] = None
            continue
        values[name] = _typed(text, kinds)
    return values


def page_number(args: Mapping[str, str]) -> int:
    """The page a link asks for; one that is not a page number (`page=x`, an old link)
    is the first page, one past the last allowed is the last allowed."""
    raw = args.get("page", "")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 1
    return min(max(number, 1), LAST_PAGE)


def field_errors(error: Invalid) -> dict[str, str]:
    """One sentence per field, in the page's language; the form shows each by its field."""
    return {name: translate(message) for name, message in error.fields.items()}
