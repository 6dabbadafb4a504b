"""A private redis-server for the tests (password, no persistence, a free port), shared by the
probe tests and the playbook tests. Skips the caller when the binary is not installed."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

# made per test session: no password-looking literal in the repository
REDIS_PASSWORD = secrets.token_urlsafe(12)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RedisServer:
    port: int

    def url(self, db: int = 0, password: str = REDIS_PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=REDIS_PASSWORD)


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    """Start redis-server in `workdir`; stopped when the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", str(workdir), "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(port)
    try:
        _wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: RedisServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with server.client() as client:
                client.ping()
                return
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
