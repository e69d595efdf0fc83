"""The record repository: records with every metadata format rendered, sets, MARC reading
and checking, crosswalks, the format registry, and import."""
