"""The OAI-PMH 2.0 data provider: this library's records, and harvested ones, served at /oai."""
