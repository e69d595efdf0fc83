"""Simple Dublin Core, which OAI-PMH asks of every repository: made from MARC by the
Library of Congress crosswalk (libfed.records.crosswalk)."""

from __future__ import annotations

from ..crosswalk import OAI_DC_NAMESPACE, OAI_DC_SCHEMA, render_oai_dc
from .entry import MetadataFormat

FORMAT = MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NAMESPACE, render_oai_dc)
