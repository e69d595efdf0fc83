"""MARC21slim under the prefix `marcxml`, the name most harvesters are configured with.

It is the same record as `marc21`, with the same schema and namespace; only the prefix
differs. So it is an alias (`stored_as`), not a rendering of its own: the provider
serves it from `marc21`'s stored body, which keeps the database from holding every
MARC record twice and offers it, without a rerender or an upgrade step, for every
record stored with MARC before it was registered (and for none harvested as oai_dc
only). `libfed db rerender --format marcxml` renders `marc21` again, the one rendering
this prefix reads; the provenance of a harvested record is therefore `marc21`'s too.
"""

from __future__ import annotations

from . import marc21
from .entry import MetadataFormat

FORMAT = MetadataFormat(
    "marcxml",
    marc21.FORMAT.schema,
    marc21.FORMAT.namespace,
    marc21.FORMAT.render,
    stored_as=marc21.FORMAT.prefix,
)
