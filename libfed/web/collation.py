"""Words sorted as the page's language sorts them: Azerbaijani puts "Çin" after "Belarus"
and "İran" before "Yaponiya", Russian sorts Cyrillic by its alphabet, whatever the
characters' code points say. ICU's collation for the page's locale decides (CLDR's rules,
as a dictionary in that language orders its words).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import icu
from flask_babel import get_locale


@lru_cache(maxsize=16)
def _collator(locale: str) -> icu.Collator:
    # A collator is read-only once made; ICU lets threads share it for comparison.
    return icu.Collator.createInstance(icu.Locale(locale))


def sort_key() -> Callable[[str], bytes]:
    """The key that sorts text in the page's language's order (`sorted(names, key=...)`)."""
    return _collator(str(get_locale() or "en")).getSortKey
