"""The OAI-PMH harvester: partner sources, scheduled runs, intake checks, provenance."""
