"""The ``tidings`` command as a user runs it: help everywhere, and ``serve`` on a fresh data
dir prints the operator key once."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.processes import TIDINGS, cli_env, free_port, tidings, wait_until_serving


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"]])
def test_help(command: list[str]) -> None:
    result = tidings(*command, "--help")
    assert result.code == 0, result.err
    assert "Usage" in result.out


def test_serve_flags_are_documented() -> None:
    result = tidings("serve", "--help")
    assert result.code == 0, result.err
    out = result.out
    for flag in ("--host", "--port", "--data-dir", "--database-url"):
        assert flag in out


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """``tidings serve`` on ``data_dir``, once it answers (its output kept for the test)."""
    process = subprocess.Popen(
        [*TIDINGS, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cli_env(),
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process)
    except AssertionError:
        process.kill()
        raise
    return process


def _serve(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``tidings serve`` and return it with the lines it printed before answering."""
    process = _start(data_dir, port)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    return process, out.splitlines()


def test_first_start_prints_the_operator_key_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "tidings-data"
    port = free_port()
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
    port = free_port()
    again = _start(data_dir, port)
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/accounts",
            headers={"Authorization": f"Bearer {key.group(1)}"},
        )
        assert response.status_code == 200
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=30)
    assert "op_" not in out
    assert f"http://127.0.0.1:{port}" in out
    assert str(data_dir.resolve()) in out


def test_migrate_creates_the_store(tmp_path: Path) -> None:
    result = tidings("migrate", "--data-dir", str(tmp_path / "d"))
    assert result.code == 0, result.err
    assert (tmp_path / "d" / "tidings.db").exists()
