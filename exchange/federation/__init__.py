"""Federated exchange: two libfed servers (or any server speaking the protocol of
docs/exchange-protocol.md) keep each other's ledgers current with signed messages."""
