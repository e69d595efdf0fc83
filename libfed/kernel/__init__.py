"""The shared kernel: configuration, database, errors, fields, paging, the API framework,
the audit trail, versioned editing and the services object every domain is handed."""
