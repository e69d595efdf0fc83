"""The record repository: records with every metadata format rendered, sets, their search
index entries, MARC reading and checking, crosswalks, the format registry, and import."""
