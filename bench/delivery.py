"""Delivery benchmark: publish N events for one webhook pointing at a fast local receiver,
then print deliveries per second and publish-to-receipt latency.

    make bench                      # SQLite, defaults
    .venv/bin/python bench/delivery.py --events 5000 --database-url postgresql://postgres@127.0.0.1/bench

Run 1 (throughput) publishes every event as fast as the API accepts them and measures the rate
from first to last receipt. Run 2 (latency) publishes at a steady rate and measures, per event,
the time from sending POST /v1/events to the receiver seeing the notification."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

HERE = Path(__file__).parent
OPERATOR_KEY = "op_bench" + secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def _publish(
    api: httpx.AsyncClient, count: int, concurrency: int, rate: float | None, progress: Progress
) -> dict[str, float]:
    """Publish ``count`` events; return each notification id with when its POST started."""
    started: dict[str, float] = {}
    task = progress.add_task("publishing", total=count)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    begin = time.time()

    async def one() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            if rate:
                await asyncio.sleep(max(0.0, begin + i / rate - time.time()))
            sent = time.time()
            response = await api.post(
                "/v1/events",
                json={"eventType": "bench.event", "eventData": {"i": i, "pad": "x" * 900}},
            )
            response.raise_for_status()
            for notification in response.json()["notifications"]:
                started[notification["id"]] = sent
            progress.advance(task)

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return started


async def _await_receipts(rx: str, expected: set[str], progress: Progress) -> dict[str, float]:
    task = progress.add_task("delivering", total=len(expected))
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            arrivals: dict[str, float] = (await client.get(f"{rx}/stats")).json()
            got = expected.intersection(arrivals)
            progress.update(task, completed=len(got))
            if len(got) == len(expected):
                return {k: arrivals[k] for k in expected}
            await asyncio.sleep(0.25)
    raise SystemExit(f"only {len(got)} of {len(expected)} notifications arrived")


async def _run(args: argparse.Namespace, base: str, rx: str) -> list[tuple[str, str]]:
    auth = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as op:
        account = (await op.post("/v1/accounts", json={"name": "bench"}, headers=auth)).json()
        as_account = {**auth, "Tidings-Account": account["id"]}
        key = (await op.post("/v1/api-keys", json={}, headers=as_account)).json()["key"]
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-Api-Key": key}, timeout=60, limits=limits
    ) as api:
        await api.post("/v1/event-types", json={"name": "bench.event"})
        await api.post("/v1/webhooks", json={"url": f"{rx}/hook"})
        rows: list[tuple[str, str]] = []
        with Progress(transient=True) as progress:
            t0 = time.time()
            sent = await _publish(api, args.events, args.concurrency, None, progress)
            publish_seconds = time.time() - t0
            arrivals = await _await_receipts(rx, set(sent), progress)
        first, last = min(arrivals.values()), max(arrivals.values())
        receipt_span = max(last - first, 1e-9)
        rows += [
            ("events published", f"{args.events}"),
            ("publish rate (202s/s)", f"{args.events / publish_seconds:,.0f}"),
            ("deliveries/s (first to last receipt)", f"{len(arrivals) / receipt_span:,.0f}"),
            ("deliveries/s (first publish to last receipt)", f"{len(arrivals) / (last - t0):,.0f}"),
        ]
        with Progress(transient=True) as progress:
            sent = await _publish(api, args.latency_events, 8, args.rate, progress)
            arrivals = await _await_receipts(rx, set(sent), progress)
        latencies = sorted((arrivals[k] - sent[k]) * 1000 for k in sent)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        rows += [
            (f"latency at {args.rate:.0f} events/s: p50", f"{statistics.median(latencies):.1f} ms"),
            (f"latency at {args.rate:.0f} events/s: p99", f"{p99:.1f} ms"),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events in the throughput run")
    parser.add_argument("--concurrency", type=int, default=32, help="publishers in parallel")
    parser.add_argument("--latency-events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the latency run")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="tidings-bench-")
    rx_port, api_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "TIDINGS_OPERATOR_KEY": OPERATOR_KEY,
        "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1",
        "TIDINGS_LOG_LEVEL": "warning",
        "TIDINGS_DATA_DIR": data_dir,
        "TIDINGS_DATABASE_URL": args.database_url,
        "TIDINGS_PORT": str(api_port),
    }
    receiver = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), str(rx_port)])
    server = subprocess.Popen(
        [sys.executable, "-m", "tidings", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        base, rx = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{rx_port}"
        _wait_up(f"{base}/healthz")
        _wait_up(f"{rx}/stats")
        rows = asyncio.run(_run(args, base, rx))
    finally:
        server.terminate()
        receiver.terminate()
        server.wait(30)
        receiver.wait(30)
    table = Table(title=f"Tidings delivery, {'PostgreSQL' if args.database_url else 'SQLite'}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)


if __name__ == "__main__":
    main()
