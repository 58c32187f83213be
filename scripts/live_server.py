"""A real server process for browser tests and the web benchmark: ``archive serve`` on a free port
over its own data folder, plus the headless Chromium the issue names (Debian's, not Playwright's).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archive.identity import users
from archive.runtime import open_runtime
from archive.settings import Settings

CHROMIUM = os.environ.get("ARCHIVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--lang=zh-CN"]


@dataclass(frozen=True)
class LiveServer:
    url: str
    home: Path
    env: dict[str, str]
    pid: int

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (VmHWM), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, **overrides: str) -> dict[str, str]:
    """The settings of a local HTTP server: its own data folder, cookies without Secure (plain HTTP)."""
    env = {"ARCHIVE_HOME": str(home), "ARCHIVE_COOKIE_SECURE": "false"}
    env.update({f"ARCHIVE_{k.upper()}": v for k, v in overrides.items()})
    return env


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a server started with ``env`` runs under (to prepare its archive beforehand)."""
    return Settings(**{k.removeprefix("ARCHIVE_").lower(): v for k, v in env.items() if k.startswith("ARCHIVE_")})


def add_users(server_settings: Settings, people: list[tuple[str, str, str]], password: str) -> None:
    """Create ``(name, role, office)`` users before the server starts (as an admin would)."""
    rt = open_runtime(server_settings)
    try:
        with rt.sessions.begin() as session:
            for name, role, office in people:
                users.add_user(session, name, role, office, password, "system:test")
    finally:
        rt.close()


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"server at {url} not healthy after {timeout:.0f} s")


@contextmanager
def serving(home: Path, log: Path | None = None, timeout: float = 90.0, **overrides: str) -> Iterator[LiveServer]:
    """Run ``archive serve`` over ``home`` until the block ends (then stop it gracefully)."""
    port = free_port()
    env = server_env(home, **overrides)
    out = (log or home / "server.log").open("ab")
    command = [sys.executable, "-m", "archive.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, timeout)
        yield LiveServer(url, home, env, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()


def launch_chromium(playwright):  # -> playwright Browser
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
