"""The receivers the benchmark delivers to, each in a process of its own.

nginx is the cheapest on CPU (about 7 µs a request against 27 µs for aiohttp.web), so the
receiver does not take the sender's core; aiohttp.web (receiver.py) stands in where nginx is not
installed. Both record every request as a line ``<unix time> <webhook-id> <path>``: nginx
in a buffered access log (``$msec``, flushed every 250 ms), aiohttp from ``time.time()``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import HERE, PYTHON, RunFailed, free_port, spawn, stop, wait_tcp

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format bench '$msec $http_webhook_id $uri';
    access_log {dir}/access.log bench buffer=256k flush=250ms;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    client_max_body_size 1m;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class Receipt:
    at: float  # unix time
    id: str  # the webhook-id header ("-" when absent)
    path: str


def find_nginx() -> str | None:
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return shutil.which("nginx")


class Receiver:
    """A fast receiver answering 200 to every request, and its log of receipts."""

    kind = ""
    # How long a receipt may take to reach the log after the request.
    flush_delay = 0.0

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tidings-bench-rx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.dir / "access.log"
        self.log.touch()
        self._offset = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.version = ""

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace=5)
            self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def read_new(self) -> list[Receipt]:
        """The receipts logged since the last call (complete lines only)."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        receipts = []
        for line in chunk[:end].decode(errors="replace").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3:
                receipts.append(Receipt(float(parts[0]), parts[1], parts[2]))
        return receipts

    def settle(self) -> list[Receipt]:
        """Wait for buffered receipts to reach the log, then read them."""
        time.sleep(self.flush_delay + 0.1)
        return self.read_new()

    def describe(self) -> str:
        return f"{self.kind} {self.version}".strip()


class NginxReceiver(Receiver):
    kind = "nginx"
    flush_delay = 0.35

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.binary = binary
        out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
        found = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
        self.version = found.group(1) if found else ""

    def start(self) -> None:
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port))
        cmd = [self.binary, "-p", str(self.dir), "-e", str(self.dir / "error.log"), "-c", str(conf)]
        self._proc = spawn(cmd, self.dir / "stdout.log")
        try:
            wait_tcp(self.port)
        except RunFailed:
            errors = (self.dir / "error.log").read_text(errors="replace")[-2000:]
            raise RunFailed(f"nginx did not start: {errors}") from None


class AiohttpReceiver(Receiver):
    kind = "aiohttp.web"
    flush_delay = 0.3

    def __init__(self) -> None:
        super().__init__()
        import aiohttp

        self.version = aiohttp.__version__

    def start(self) -> None:
        cmd = [PYTHON, str(HERE / "receiver.py"), "serve", str(self.port), str(self.log)]
        self._proc = spawn(cmd, self.dir / "stdout.log")
        wait_tcp(self.port)


class HangingServer:
    """Accepts connections and never answers (receiver.py hang)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_dir / "hanging-receiver.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HangingServer:
        self._proc = spawn([PYTHON, str(HERE / "receiver.py"), "hang", str(self.port)], self._log)
        wait_tcp(self.port)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._proc is not None:
            stop(self._proc, grace=2)


def install_nginx(say: Callable[[str], object]) -> str | None:
    """Install nginx-light with apt (as root, where apt-get exists); its path, or None."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        say(
            "nginx is not installed and cannot be here (no apt-get, or not root): "
            "`apt-get install nginx-light` makes the receiver ~4x cheaper than aiohttp.web"
        )
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "nginx-light"]
    for step in ([], [apt, "update", "-q"]):
        if step:
            subprocess.run(step, env=env, capture_output=True, check=False, timeout=300)
        say("installing nginx-light with apt-get (the benchmark's receiver)")
        done = subprocess.run(install, env=env, capture_output=True, check=False, timeout=600)
        if done.returncode == 0 and find_nginx():
            return find_nginx()
    say(f"apt-get install nginx-light failed: {done.stderr.decode(errors='replace')[-400:]}")
    return None


def make_receiver(
    prefer: str = "auto", say: Callable[[str], object] = print
) -> tuple[Receiver, str]:
    """nginx if installed (unless ``prefer`` is "aiohttp"), installed with apt when missing,
    else aiohttp.web; and why."""
    if prefer == "aiohttp":
        return AiohttpReceiver(), "aiohttp.web (asked for with --receiver aiohttp)"
    binary = find_nginx() or install_nginx(say)
    if binary:
        return NginxReceiver(binary), f"nginx at {binary}"
    if prefer == "nginx":
        raise RunFailed("--receiver nginx: nginx is not at /usr/sbin/nginx nor on PATH")
    return AiohttpReceiver(), "aiohttp.web (nginx not found at /usr/sbin/nginx nor on PATH)"
