"""The web pages' shell: sign-in, sessions, CSRF, languages, layout and forms.

Domain packages add their pages as blueprints that use these pieces; the app
factory installs the shell and the domains' blueprints together.
"""
