"""Serve the hub API from a background thread on 127.0.0.1 (used by `ggzy demo` and the tests)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

from ggzy.settings import Settings

START_TIMEOUT_SECONDS = 20.0


class BackgroundAPI:
    """The real API (uvicorn + create_app) in a daemon thread on a free loopback port; a context manager."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0, app: Any = None) -> None:
        self.settings = settings
        self.app = app  # an already built ASGI app (benchmarks, tests with other limits); default create_app
        self.host = host
        self.port = port
        self._server = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL of the running API."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Bind, start serving and wait until uvicorn reports it has started; returns the base URL."""
        import uvicorn

        from api.app import create_app

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self.port = self._sock.getsockname()[1]
        app = self.app if self.app is not None else create_app(self.settings)
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="hub-api"
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the hub API did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> BackgroundAPI:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
