"""Who: institutions, users, their roles and API tokens."""
