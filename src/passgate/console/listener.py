"""The console on a listener of its own (`--console-port`): a second uvicorn server in the
same process and event loop as the public one, over the same service, so that the public
port need not serve /console/ at all."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette


class ListenerError(Exception):
    """The console's port cannot be bound."""


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """The console's listening socket, bound now so that a taken port is a clear error at
    start-up; with `reuse_port`, one of several workers' sockets on the port (SO_REUSEPORT:
    the kernel spreads the connections). Raises ListenerError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenerError(f"cannot listen for the console on {host}:{port}: {exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Sidecar(uvicorn.Server):
    """A uvicorn server that leaves the signals to the main one, which stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Listener:
    """The console's own server over `routes` and the main app's service (passgate.service);
    the main app's lifespan starts and stops it."""

    def __init__(self, routes: list[Any], service: Any, sock: socket.socket) -> None:
        app = Starlette(routes=routes)
        app.state.service = service
        config = uvicorn.Config(
            app,
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            proxy_headers=False,  # X-Forwarded-* are read from trusted proxies only
        )
        self.server = _Sidecar(config)
        self.sock = sock
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
