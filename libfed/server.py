"""gunicorn, embedded: `libfed serve` runs the production server, not Flask's."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from .config import Config


class _Application(BaseApplication):
    def __init__(self, config: Config, options: dict) -> None:
        self._libfed_config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        # Built in each worker after the fork: a database connection must not be
        # shared between processes.
        from .app import create_app

        return create_app(self._libfed_config)


def run(config: Config, host: str, port: int, workers: int) -> None:
    _Application(
        config,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 120,
            "accesslog": "-",
            "errorlog": "-",
        },
    ).run()
