"""The ``tidings`` command as a user runs it: help everywhere, and ``serve`` on a fresh data
dir prints the operator key once."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TIDINGS = [sys.executable, "-m", "tidings"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_LOG_LEVEL"] = "warning"
    return env


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"]])
def test_help(command: list[str]) -> None:
    result = subprocess.run(
        [*TIDINGS, *command, "--help"], capture_output=True, text=True, env=_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_serve_flags_are_documented() -> None:
    out = subprocess.run(
        [*TIDINGS, "serve", "--help"], capture_output=True, text=True, env=_env(), check=True
    ).stdout
    for flag in ("--host", "--port", "--data-dir", "--database-url"):
        assert flag in out


def _serve(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``tidings serve`` and return it with the lines it printed before answering."""
    process = subprocess.Popen(
        [*TIDINGS, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("tidings serve did not answer /healthz")
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    return process, out.splitlines()


def test_first_start_prints_the_operator_key_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "tidings-data"
    port = _free_port()
    process, lines = _serve(data_dir, port)
    assert process.returncode == 0
    text = "\n".join(lines)
    assert f"http://127.0.0.1:{port}" in text
    assert str(data_dir.resolve()) in text
    key = re.search(r"(op_[A-Za-z0-9]+)", text)
    assert key, text
    assert "will not be shown again" in text
    assert (data_dir / "tidings.db").exists()

    # The printed key works against a later start, which does not print it again.
    port = _free_port()
    again = subprocess.Popen(
        [*TIDINGS, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/v1/accounts",
                    headers={"Authorization": f"Bearer {key.group(1)}"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=30)
    assert "op_" not in out
    assert f"http://127.0.0.1:{port}" in out
    assert str(data_dir.resolve()) in out


def test_migrate_creates_the_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TIDINGS, "migrate", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "tidings.db").exists()
