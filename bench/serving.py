"""Start ``chatforge serve`` in processes of its own, for the benchmarks.

A benchmark's clients must not share the server's interpreter lock: in one process, 200 clients
parsing Server-Sent Events would be measured as the server's time. So the server is the real
command, on the benchmark's database, with ``--workers`` processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from chatforge.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    settings: Settings, *, workers: int = 1, timeout: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``chatforge serve`` on the settings' database; returns it and its base URL once it is
    ready and its search memory warm."""
    port = free_port()
    env = {
        **os.environ,
        "CHATFORGE_DATA_DIR": str(settings.data_dir),
        "CHATFORGE_LOG_LEVEL": "WARNING",
    }
    if settings.database_url:
        env["CHATFORGE_DATABASE_URL"] = settings.database_url
    command = [sys.executable, "-m", "chatforge", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    # Ready once its search memory is warm (docs/retrieval.md): until then the database's own
    # indexes answer, and the figures would measure those. Each worker process warms its own,
    # so several answers in a row must say so.
    warm_in_a_row = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            ready = httpx.get(f"{base}/readyz", timeout=2)
            warm = ready.status_code == 200 and ready.json().get("search") == "warm"
            warm_in_a_row = warm_in_a_row + 1 if warm else 0
            if warm_in_a_row >= 3 * workers:
                return process, base
        except httpx.TransportError:
            warm_in_a_row = 0
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"chatforge serve did not start at {base}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)
