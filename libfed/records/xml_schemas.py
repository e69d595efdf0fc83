"""The XML Schemas of the formats this server serves, loaded offline, to check records.

A record is served to partners and aggregators exactly as it is stored, so what
may be stored is what validates against its format's official schema. The schemas
are the verbatim copies in the project's `schemas/` folder (the package libfed.schemas); their imports name the
official URLs, which `schemas/catalog.xml` maps to those copies. The catalog is read
here into an lxml resolver rather than through XML_CATALOG_FILES, which libxml2
reads once per process and which the server does not control.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from pathlib import Path

from lxml import etree

from .formats import MetadataFormat

# The repository's `schemas/` folder, installed as libfed.schemas: a real folder in a
# wheel and in an editable install alike.
SCHEMAS = Path(str(resources.files("libfed.schemas")))
_CATALOG = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
# An XMLSchema keeps its error log on itself: each thread validates with its own.
_local = threading.local()


class _Catalog(etree.Resolver):
    """Official schema URLs answered from the local copies; anything else refused."""

    def __init__(self, mapping: dict[str, Path]) -> None:
        super().__init__()
        self.mapping = mapping

    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def]
        path = self.mapping.get(system_url)
        return self.resolve_filename(str(path), context) if path else None


@cache
def _catalog() -> _Catalog:
    root = etree.parse(str(SCHEMAS / "catalog.xml")).getroot()
    mapping = {
        entry.get("name") or entry.get("systemId"): SCHEMAS / entry.get("uri")
        for entry in root.iter(f"{{{_CATALOG}}}uri", f"{{{_CATALOG}}}system")
    }
    return _Catalog(mapping)


def _schema(url: str) -> etree.XMLSchema:
    loaded: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if url not in loaded:
        loaded[url] = _load(url)
    return loaded[url]


def _load(url: str) -> etree.XMLSchema:
    path = _catalog().mapping.get(url)
    if path is None or not path.is_file():
        raise LookupError(f"no local copy of the schema {url} in {SCHEMAS}")
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_catalog())
    return etree.XMLSchema(etree.parse(str(path), parser))


def schema_problem(metadata_format: MetadataFormat, element: etree._Element) -> str | None:
    """Why `element` is not valid in `metadata_format` (the first error), or None."""
    schema = _schema(metadata_format.schema)
    if schema.validate(element):
        return None
    error = schema.error_log.last_error
    message = error.message[:200] if error is not None else "not valid"
    return f"not valid {metadata_format.prefix}: {message}"
