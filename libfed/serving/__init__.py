"""Serving HTTP with gunicorn: a worker that bounds slow clients, and request framing."""
