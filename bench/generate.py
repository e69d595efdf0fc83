"""Realistic benchmark records: real catalogue records varied into as many as needed.

Templates are the demo catalogue (Azerbaijani, Russian, Uzbek, Karakalpak) and the
Library of Congress CC0 records (Arabic, Persian, CJK, Hebrew, Cyrillic 880s), so
sizes and scripts are those of real catalogues. Each copy gets its own 001 and a
title variant, so every record is a distinct item with distinct metadata.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

_RECORD = re.compile(r"<record[ >].*?</record>", re.S)
_CONTROL_001 = re.compile(r'<controlfield tag="001">[^<]*</controlfield>')
_TITLE = re.compile(r'(<datafield tag="245"[^>]*>\s*<subfield code="a">)([^<]*)')
_NAMESPACED = re.compile(r"<(/?)marc:")


def templates() -> list[str]:
    data = resources.files("libfed.root.demo") / "data"
    found = []
    for name in ("libfed_demo.xml", "marc2bibframe2_gwu.xml", "marc2bibframe2_princeton.xml"):
        text = _NAMESPACED.sub(r"<\1", (data / name).read_text("utf-8"))
        found += [r for r in _RECORD.findall(text) if _CONTROL_001.search(r) and _TITLE.search(r)]
    return found


def varied(pool: list[str], i: int) -> str:
    """The i-th record made from `pool`'s MARCXML records: its template's, with 001
    bench<i> and the copy's number after the title."""
    template = pool[i % len(pool)]
    record = _CONTROL_001.sub(f'<controlfield tag="001">bench{i:07d}</controlfield>', template, 1)
    return _TITLE.sub(lambda m: f"{m.group(1)}{m.group(2)} [{i // len(pool) + 1}]", record, 1)


def write_collection(path: Path, count: int) -> Path:
    """A MARCXML collection of `count` records (about 2.7 KB each, like the templates)."""
    pool = templates()
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for i in range(count):
            out.write(varied(pool, i))
            out.write("\n")
        out.write("</collection>\n")
    return path
