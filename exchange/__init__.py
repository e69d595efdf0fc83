"""The exchange ledger: partners, agreements, shipments with their items, reports and offer lists."""
