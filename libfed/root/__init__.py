"""The composition root: the app factory, the root CLI, the server and the migration
environment, the only code that imports more than one domain and hands each what it
needs from the others."""
