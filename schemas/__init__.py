"""The official XML Schemas (OAI-PMH, Dublin Core, MARC21, MODS) and their catalog, for offline validation."""
