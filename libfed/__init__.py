"""libfed: an interlibrary exchange and OAI-PMH federation server.

The shared kernel and the record repository live here; the domains `libfed.oai`,
`libfed.harvest` and `libfed.exchange` are folders at the repository's root, installed
under this package; `libfed.root` assembles them (docs/architecture.md).
"""
