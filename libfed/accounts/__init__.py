"""Who: institutions, users, their roles, API tokens and signed-in browsers."""
