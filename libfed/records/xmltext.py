"""Text that is safe to put in XML 1.0.

Catalogue data carries control characters (MARC-8 leftovers, U+FFFE from broken
converters); one of them in a response makes a harvester's parser abort the whole
harvest, so they are removed when data enters the system and never reach output.
"""

from __future__ import annotations

import re

# Everything XML 1.0 forbids: C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def strip_illegal(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry."""
    return ILLEGAL.sub("", value)


def has_illegal(value: str) -> bool:
    """Whether `value` holds a character XML 1.0 cannot carry (one scan, no copy)."""
    return ILLEGAL.search(value) is not None


def escape_text(value: str) -> str:
    """Escape character data (callers pass text that is already free of illegal characters).

    Catalogue text seldom holds &, < or >: testing for them is cheaper than translating."""
    if "&" in value or "<" in value or ">" in value:
        return value.translate(_TEXT)
    return value


def escape_attribute(value: str) -> str:
    """Escape a double-quoted attribute value, keeping whitespace characters as they are."""
    return value.translate(_ATTRIBUTE)


def safe_text(value: str) -> str:
    """Untrusted text (such as a request argument echoed back) made safe for character data."""
    return escape_text(strip_illegal(value))


def safe_attribute(value: str) -> str:
    """Untrusted text made safe for an attribute value."""
    return escape_attribute(strip_illegal(value))
