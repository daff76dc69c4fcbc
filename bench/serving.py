"""Start ``chatforge serve``'s app under uvicorn in a process of its own, for the benchmarks.

A benchmark's clients must not share the server's interpreter lock: in one process, 200 clients
parsing Server-Sent Events would be measured as the server's time.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from multiprocessing.process import BaseProcess

import httpx
import uvicorn

from chatforge.app import create_app
from chatforge.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, port: int) -> None:
    """Run the app (in the child process)."""
    app = create_app(settings, public_base_url=f"http://127.0.0.1:{port}")
    uvicorn.run(app, port=port, log_level="warning", backlog=4096)


def start_server(settings: Settings, timeout: float = 120) -> tuple[BaseProcess, str]:
    """Start a server process; returns it and its base URL once ``/healthz`` answers."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(settings, port), daemon=True
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"the server did not start at {base}")


def stop_server(process: BaseProcess) -> None:
    process.terminate()
    process.join(15)
