"""Run a benchmark competitor under gunicorn with libfed's own serving settings.

usage: python -m bench.serve_competitor batching DATABASE_PATH PORT
       python -m bench.serve_competitor static PAGES_PICKLE PORT
"""

from __future__ import annotations

import pickle
import sys

from libfed.root.server import WSGIServer, gunicorn_options

from .competitors import batching_server_app, static_app


def main() -> None:
    kind, source, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    base_url = f"http://127.0.0.1:{port}/"
    if kind == "batching":
        factory = lambda: batching_server_app(source, base_url)  # noqa: E731
    else:
        with open(source, "rb") as handle:
            pages = pickle.load(handle)
        factory = lambda: static_app(pages)  # noqa: E731
    options = gunicorn_options("127.0.0.1", port, 1) | {"accesslog": None}
    WSGIServer(factory, options).run()


if __name__ == "__main__":
    main()
