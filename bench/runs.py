"""The numbered runs of issue 8, one function each. Every run starts the Tidings processes it
needs and stops them when it ends, whatever happened; each returns its figures as a dict and
raises RunFailed when it did not complete (a notification lost, a stall, a process that died).

1 ceiling      bare aiohttp client process -> receiver, N in flight, unsigned and signed
2 sqlite       SQLite, one process: N events published first (no worker), then delivered
3 postgres     the same on PostgreSQL with 1 and with 2 worker processes
4 latency      publish-to-receipt p50/p99 at a steady rate (SQLite, role all)
5 ingest       POST /v1/events accepted per second, 64 publishers (from runs 2 and 3)
6 fanout       one event to 1,000 webhooks: time until the last receipt
7 isolation    a webhook hanging to the timeout beside a healthy one (share of run 2)
8 backlog      1,000,000 due notifications in PostgreSQL: a worker's peak RSS draining them
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from cluster import Api, Deployment, Processes, Published, Tidings
from common import HERE, PYTHON, RunFailed, spawn, stop
from database import clone_notifications, fresh_postgres, outcomes, settled
from receivers import HangingServer, Receiver

EVENT_TYPE = "bench.event"
RUN_NAMES = ("ceiling", "sqlite", "postgres", "latency", "ingest", "fanout", "isolation", "backlog")


@dataclass
class Config:
    quick: bool = False
    events: int = 50_000  # runs 2, 3 (and 5)
    concurrency: int = 64  # the ceiling's requests in flight; publishers in runs 2, 3, 5
    ceiling_seconds: float = 10.0
    latency_rate: float = 1000.0
    latency_seconds: float = 10.0
    fanout: int = 1000
    isolation_events: int = 50_000  # as many as run 2, so the two rates compare
    hang_timeout: float = 5.0  # TIDINGS_DELIVERY_TIMEOUT in run 7
    backlog: int = 1_000_000
    backlog_seconds: float = 60.0
    # A run fails when nothing new arrives at the receiver for this long.
    stall_seconds: float = 60.0
    postgres_url: str = ""  # a server to create databases on
    postgres_skip: str | None = None  # why PostgreSQL runs are skipped


@dataclass
class Bench:
    cfg: Config
    receiver: Receiver
    console: Console
    progress: Progress
    work_root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tidings-bench-")))
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Why the current run failed although it went on to measure (cleared between runs).
    failures: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        """The run fails, but goes on measuring what it can."""
        self.failures.append(reason)

    def deployment(self, name: str, database_url: str = "", **env: str) -> Deployment:
        work = self.work_root / name
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        # A quick stop at the end of each run; it does not change what is measured.
        return Deployment(work, database_url, {"TIDINGS_SHUTDOWN_GRACE": "3", **env})

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Callable[[float], None]]:
        """A progress bar for one step; yields its advance(n)."""
        task: TaskID = self.progress.add_task(description, total=total)
        try:
            yield lambda n: self.progress.advance(task, n)
        finally:
            self.progress.remove_task(task)

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")

    async def collect(
        self,
        expected: Collection[str],
        label: str,
        procs: Collection[Tidings],
    ) -> dict[str, float]:
        """Receipt times of the ``expected`` notification ids, once all have arrived. Fails
        when nothing new arrives for ``stall_seconds`` or a process exits."""
        wanted = set(expected)
        arrivals: dict[str, float] = {}
        duplicates = 0
        last_news = time.monotonic()
        with self.task(label, total=len(wanted)) as advance:
            while len(arrivals) < len(wanted):
                await asyncio.sleep(0.2)
                before = len(arrivals)
                for receipt in self.receiver.read_new():
                    if receipt.id in wanted:
                        if receipt.id in arrivals:
                            duplicates += 1
                        else:
                            arrivals[receipt.id] = receipt.at
                if len(arrivals) > before:
                    advance(len(arrivals) - before)
                    last_news = time.monotonic()
                for proc in procs:
                    if not proc.alive():
                        raise RunFailed(f"{proc.name} exited while delivering: {proc.tail(600)}")
                if not self.receiver.alive():
                    raise RunFailed("the receiver exited")
                if time.monotonic() - last_news > self.cfg.stall_seconds:
                    raise RunFailed(
                        f"{label}: {len(arrivals):,} of {len(wanted):,} notifications arrived, "
                        f"then nothing for {self.cfg.stall_seconds:.0f} s"
                    )
        if duplicates:
            self.problems.append(f"{label}: {duplicates} notifications were received twice")
        return arrivals

    def finish(self, procs: Processes) -> None:
        self.problems.extend(procs.problems())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _check_published(b: Bench, pub: Published, expected: int, what: str) -> None:
    """Publishes that failed fail the run (the events that were accepted are still measured);
    503 answers that succeeded when tried again are reported."""
    if pub.retried:
        listed = "; ".join(f"{text} (x{n})" for text, n in pub.retried.most_common(2))
        b.problems.append(
            f"{what}: {sum(pub.retried.values())} publishes answered 503 and were tried "
            f"again: {listed}"
        )
    if pub.errors:
        listed = "; ".join(f"{text} (x{n})" for text, n in pub.errors.most_common(3))
        b.fail(f"{what}: {sum(pub.errors.values())} publishes failed: {listed}")
    elif pub.accepted != expected:
        b.fail(f"{what}: {pub.accepted} of {expected} events accepted")
    if not pub.accepted:
        raise RunFailed(f"{what}: no event was accepted")


def _check_outcomes(found: Any, expected: int, what: str) -> None:
    if not found.all_succeeded_once(expected):
        raise RunFailed(
            f"{what}: expected {expected:,} notifications succeeded with one attempt each; "
            f"the database has {found.describe()}"
        )


async def _open(api: Api, *webhook_urls: str, event_type: str = EVENT_TYPE) -> list[str]:
    await api.open_account()
    await api.event_type(event_type)
    return [await api.webhook(url, [event_type]) for url in webhook_urls]


# 1 ----------------------------------------------------------------------------------------


async def ceiling(b: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {"concurrency": b.cfg.concurrency}
    for key, sign in (("plain", False), ("signed", True)):
        url = f"{b.receiver.url}/ceiling/{key}"
        cmd = [PYTHON, str(HERE / "ceiling.py"), url]
        cmd += ["--seconds", str(b.cfg.ceiling_seconds), "--concurrency", str(b.cfg.concurrency)]
        if sign:
            cmd.append("--sign")
        log = b.work_root / f"ceiling-{key}.log"
        proc = spawn(cmd, log)
        try:
            total = b.cfg.ceiling_seconds + 0.5
            with b.task(f"ceiling ({key})", total=total) as advance:
                begin = time.monotonic()
                while proc.poll() is None:
                    await asyncio.sleep(0.2)
                    advance(0.2)
                    if time.monotonic() - begin > total + 60:
                        raise RunFailed(f"the ceiling client ({key}) hung")
        finally:
            stop(proc, grace=2)
        lines = log.read_text().strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RunFailed(f"the ceiling client failed: {' '.join(lines[-5:])}")
        result = json.loads(lines[-1])
        if result["errors"]:
            raise RunFailed(f"the ceiling client ({key}) got {result['errors']} non-200 answers")
        out[key] = result["rate"]
        out[f"{key}_detail"] = result
    received = sum(1 for r in b.receiver.settle() if r.path.startswith("/ceiling/"))
    out["received"] = received
    sent = sum(out[f"{k}_detail"]["requests"] for k in ("plain", "signed"))
    if received < sent:
        raise RunFailed(f"ceiling: the client counted {sent} answers, the receiver {received}")
    b.note(
        f"ceiling: {out['plain']:,.0f} req/s, signed {out['signed']:,.0f} req/s "
        f"({b.cfg.concurrency} in flight, {out['plain_detail']['loop']})"
    )
    return out


# 2, 3, 5 ----------------------------------------------------------------------------------


async def _publish_phase(b: Bench, dep: Deployment, name: str) -> tuple[str, Published]:
    """Publish N events with only an API process up (no worker runs), then stop it."""
    n = b.cfg.events
    procs = Processes()
    try:
        api_proc = Tidings(dep, "api", f"{name}-api")
        await procs.start(api_proc)
        async with Api(api_proc.base, dep.operator_key, b.cfg.concurrency) as api:
            (webhook,) = await _open(api, f"{b.receiver.url}/{name}/hook")
            cpu_before = api_proc.cpu_seconds()
            with b.task(f"{name}: publishing (no worker running)", total=n) as advance:
                pub = await api.publish(
                    EVENT_TYPE, n, concurrency=b.cfg.concurrency, advance=advance
                )
            pub.cpu_seconds = api_proc.cpu_seconds() - cpu_before
        _check_published(b, pub, n, name)
    finally:
        await procs.stop()
        b.finish(procs)
    return webhook, pub


async def _deliver_phase(
    b: Bench, dep: Deployment, name: str, webhook: str, pub: Published, workers: int
) -> dict[str, Any]:
    """Start the delivering process(es) on the published events (role all when ``workers`` is
    0, else that many --role worker processes) and measure first to last receipt."""
    n = len(pub.sent)
    procs = Processes()
    try:
        b.receiver.read_new()
        runners = (
            [Tidings(dep, "all", f"{name}-all")]
            if workers == 0
            else [Tidings(dep, "worker", f"{name}-worker{i + 1}") for i in range(workers)]
        )
        started = time.time()
        await procs.start(*runners)
        cpu_before = sum(r.cpu_seconds() for r in runners)
        arrivals = await b.collect(pub.sent, f"{name}: delivering", runners)
        cpu = sum(r.cpu_seconds() for r in runners) - cpu_before
        found = await settled(dep, webhook, n)
        await procs.stop(*runners)
        _check_outcomes(found, n, name)
    finally:
        await procs.stop()
        b.finish(procs)
    first, last = min(arrivals.values()), max(arrivals.values())
    result = {
        "engine": dep.engine,
        "workers": max(workers, 1),
        "role": "all" if workers == 0 else "worker",
        "events": n,
        "rate": n / max(last - first, 1e-9),
        "seconds": last - first,
        "from_start_rate": n / max(last - started, 1e-9),
        # The delivering processes' CPU per delivery: comparable across runs on a busy machine.
        "cpu_ms_per_delivery": cpu * 1000 / n,
        "check": found.describe(),
    }
    b.note(
        f"{name}: {result['rate']:,.0f} deliveries/s ({n:,} events), "
        f"{result['cpu_ms_per_delivery']:.3f} ms CPU each; {found.describe()}"
    )
    return result


def _ingest_figures(pub: Published, engine: str, concurrency: int) -> dict[str, Any]:
    return {
        "engine": engine,
        "events": pub.accepted,
        "publishers": concurrency,
        "rate": pub.rate,
        "answer_p50_ms": statistics.median(pub.answer_times) * 1000,
        "answer_p99_ms": _percentile(pub.answer_times, 0.99) * 1000,
        "failed": sum(pub.errors.values()),
        "retried_503": sum(pub.retried.values()),
        "cpu_ms_per_event": pub.cpu_seconds * 1000 / max(1, pub.accepted),
    }


async def sqlite(b: Bench) -> dict[str, Any]:
    dep = b.deployment("sqlite")
    webhook, pub = await _publish_phase(b, dep, "sqlite")
    ingested = _ingest_figures(pub, dep.engine, b.cfg.concurrency)
    b.note(f"sqlite: published at {pub.rate:,.0f} events/s")
    return {**await _deliver_phase(b, dep, "sqlite", webhook, pub, 0), "ingest": ingested}


async def postgres(b: Bench) -> dict[str, Any]:
    """The events are published once, into the 1-worker run's database; the 2-worker run
    starts from a copy of it made before any worker ran (CREATE DATABASE ... TEMPLATE)."""
    admin = b.cfg.postgres_url
    async with fresh_postgres(admin) as url:
        dep = b.deployment("postgres", url)
        webhook, pub = await _publish_phase(b, dep, "postgres")
        ingested = _ingest_figures(pub, dep.engine, b.cfg.concurrency)
        b.note(f"postgres: published at {pub.rate:,.0f} events/s")
        async with fresh_postgres(admin, template=url) as copy:
            twin = b.deployment("postgres-copy", copy)
            twin.operator_key, twin.master_key = dep.operator_key, dep.master_key
            one = await _deliver_phase(b, dep, "postgres-1w", webhook, pub, 1)
            two = await _deliver_phase(b, twin, "postgres-2w", webhook, pub, 2)
    return {"workers_1": one, "workers_2": two, "ingest": ingested}


async def ingest(b: Bench) -> dict[str, Any]:
    """Events accepted per second with 64 publishers, API role alone. Taken from the publish
    phase of runs 2 and 3 when they ran; measured here otherwise."""
    out: dict[str, Any] = {}
    if "ingest" in b.results.get("sqlite", {}):
        out["sqlite"] = b.results["sqlite"]["ingest"]
    elif "sqlite" not in b.results:
        out["sqlite"] = await _publish_only(b, "ingest-sqlite", "")
    if "ingest" in b.results.get("postgres", {}):
        out["postgres"] = b.results["postgres"]["ingest"]
    elif "postgres" not in b.results and not b.cfg.postgres_skip:
        async with fresh_postgres(b.cfg.postgres_url) as url:
            out["postgres"] = await _publish_only(b, "ingest-postgres", url)
    return out


async def _publish_only(b: Bench, name: str, database_url: str) -> dict[str, Any]:
    dep = b.deployment(name, database_url)
    _, pub = await _publish_phase(b, dep, name)
    result = _ingest_figures(pub, dep.engine, b.cfg.concurrency)
    b.note(f"{name}: {result['rate']:,.0f} events/s accepted")
    return result


# 4 ----------------------------------------------------------------------------------------


# The low rate of issue 16's latency target (p50 <= 3 ms).
LOW_RATE = 50.0


async def latency(b: Bench) -> dict[str, Any]:
    """Open-loop publishing at the asked rate; each event's latency is its receipt time minus
    the time its POST was sent. When the server cannot take that rate the latency includes
    the queue that builds up, so it is measured again at half the rate sustained (published
    and delivered), and at a low 50/s, reported beside it."""
    rate = b.cfg.latency_rate
    count = max(1, round(rate * b.cfg.latency_seconds))
    warmup = max(1, min(100, round(rate * 0.5)))
    dep = b.deployment("latency")
    procs = Processes()
    slower: dict[str, Any] | None = None
    low: dict[str, Any] | None = None
    try:
        proc = Tidings(dep, "all", "latency-all")
        await procs.start(proc)
        async with Api(proc.base, dep.operator_key, 256) as api:
            (webhook,) = await _open(api, f"{b.receiver.url}/latency/hook")
            b.receiver.read_new()
            warm = await api.publish(EVENT_TYPE, warmup, rate=rate)
            _check_published(b, warm, warmup, "latency warm-up")
            await b.collect(warm.sent, "latency: warm-up", [proc])
            with b.task(f"latency: publishing at {rate:,.0f}/s", total=count) as advance:
                pub = await api.publish(
                    EVENT_TYPE, count, rate=rate, advance=advance, start_index=warmup
                )
            _check_published(b, pub, count, "latency")
            arrivals = await b.collect(pub.sent, "latency: delivering", [proc])
            expected = len(warm.sent) + len(pub.sent)
            # What the process sustains: events published and delivered per second, from the
            # first POST to the last receipt (above it, the queue grows for the whole run).
            first = min(pub.sent.values())
            sustained = min(pub.rate, len(pub.sent) / max(1e-3, max(arrivals.values()) - first))
            for label, paced in (("half", max(1.0, round(sustained / 2))), ("low", LOW_RATE)):
                seconds = max(2.0, b.cfg.latency_seconds / 2)
                n = max(20, round(paced * seconds))
                with b.task(f"latency: publishing at {paced:,.0f}/s", total=n) as advance:
                    one = await api.publish(
                        EVENT_TYPE,
                        n,
                        rate=paced,
                        advance=advance,
                        start_index=10**6 * (2 if label == "low" else 1),
                    )
                _check_published(b, one, n, f"latency ({paced:,.0f}/s)")
                one_arrivals = await b.collect(one.sent, "latency: delivering", [proc])
                expected += len(one.sent)
                paced_result = {"asked_rate": paced, "achieved_rate": one.rate, "events": n}
                paced_result.update(_latencies(one, one_arrivals))
                if label == "half":
                    slower = paced_result
                else:
                    low = paced_result
        found = await settled(dep, webhook, expected)
        await procs.stop(proc)
        _check_outcomes(found, expected, "latency")
    finally:
        await procs.stop()
        b.finish(procs)
    result = {
        "target_rate": rate,
        "events": count,
        "achieved_rate": pub.rate,
        **_latencies(pub, arrivals),
        "sustained_rate": sustained,
        "half_rate": slower,
        "low_rate": low,
        "receipt_clock": "nginx $msec (1 ms resolution)"
        if b.receiver.kind == "nginx"
        else "time.time() in the receiver",
        "check": found.describe(),
    }
    b.note(
        f"latency: p50 {result['p50_ms']:,.1f} ms, p99 {result['p99_ms']:,.1f} ms at "
        f"{pub.rate:,.0f} events/s achieved ({rate:,.0f} asked)"
    )
    if slower:
        b.note(
            f"latency: p50 {slower['p50_ms']:,.1f} ms, p99 {slower['p99_ms']:,.1f} ms at "
            f"{slower['achieved_rate']:,.0f} events/s (half the rate sustained)"
        )
    if low:
        b.note(
            f"latency: p50 {low['p50_ms']:,.1f} ms, p99 {low['p99_ms']:,.1f} ms at "
            f"{low['achieved_rate']:,.0f} events/s"
        )
    return result


def _latencies(pub: Published, arrivals: dict[str, float]) -> dict[str, float]:
    latencies = [(arrivals[k] - sent) * 1000 for k, sent in pub.sent.items()]
    return {
        "p50_ms": statistics.median(latencies),
        "p90_ms": _percentile(latencies, 0.90),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "answer_p50_ms": statistics.median(pub.answer_times) * 1000,
        "answer_p99_ms": _percentile(pub.answer_times, 0.99) * 1000,
    }


# 6 ----------------------------------------------------------------------------------------


async def fanout(b: Bench) -> dict[str, Any]:
    n = b.cfg.fanout
    limit = str(max(2000, 2 * n))
    dep = b.deployment("fanout", TIDINGS_MAX_WEBHOOKS_PER_ACCOUNT=limit)
    procs = Processes()
    try:
        proc = Tidings(dep, "all", "fanout-all")
        await procs.start(proc)
        async with Api(proc.base, dep.operator_key, 16) as api:
            await api.open_account()
            await api.event_type("bench.fanout")
            with b.task(f"fanout: creating {n:,} webhooks", total=n) as advance:
                pending = iter(range(n))

                async def creator() -> None:
                    for i in pending:
                        await api.webhook(f"{b.receiver.url}/fan/{i}", ["bench.fanout"])
                        advance(1)

                await asyncio.gather(*(creator() for _ in range(16)))
            b.receiver.read_new()
            pub = await api.publish("bench.fanout", 1, concurrency=1)
        _check_published(b, pub, 1, "fanout")
        if len(pub.sent) != n:
            raise RunFailed(f"fanout: the event made {len(pub.sent)} notifications, not {n}")
        arrivals = await b.collect(pub.sent, "fanout: delivering", [proc])
        found = await settled(dep, None, n)
        await procs.stop(proc)
        _check_outcomes(found, n, "fanout")
    finally:
        await procs.stop()
        b.finish(procs)
    (sent,) = set(pub.sent.values())
    result = {
        "webhooks": n,
        "seconds": max(arrivals.values()) - sent,
        "first_receipt_seconds": min(arrivals.values()) - sent,
        "answer_ms": pub.answer_times[0] * 1000,
        "check": found.describe(),
    }
    b.note(
        f"fanout: last of {n:,} receipts {result['seconds']:.2f} s after the POST "
        f"(202 after {result['answer_ms']:.0f} ms)"
    )
    return result


# 7 ----------------------------------------------------------------------------------------


async def isolation(b: Bench) -> dict[str, Any]:
    n = b.cfg.isolation_events
    dep = b.deployment("isolation", TIDINGS_DELIVERY_TIMEOUT=str(b.cfg.hang_timeout))
    procs = Processes()
    with HangingServer(dep.work_dir) as hanging:
        try:
            api_proc = Tidings(dep, "api", "isolation-api")
            await procs.start(api_proc)
            async with Api(api_proc.base, dep.operator_key, b.cfg.concurrency) as api:
                healthy, hung = await _open(
                    api, f"{b.receiver.url}/isolation/healthy", f"{hanging.url}/hang"
                )
                with b.task("isolation: publishing (no worker running)", total=n) as advance:
                    pub = await api.publish(
                        EVENT_TYPE,
                        n,
                        concurrency=b.cfg.concurrency,
                        advance=advance,
                        only_webhook=healthy,
                    )
            _check_published(b, pub, n, "isolation")
            await procs.stop(api_proc)
            b.receiver.read_new()
            proc = Tidings(dep, "all", "isolation-all")
            await procs.start(proc)
            arrivals = await b.collect(pub.sent, "isolation: delivering (healthy)", [proc])
            found = await settled(dep, healthy, len(pub.sent))
            stuck = await outcomes(dep, hung)
            await procs.stop(proc)
            _check_outcomes(found, len(pub.sent), "isolation (healthy webhook)")
        finally:
            await procs.stop()
            b.finish(procs)
    first, last = min(arrivals.values()), max(arrivals.values())
    rate = len(arrivals) / max(last - first, 1e-9)
    result = {
        "events": len(arrivals),
        "timeout_seconds": b.cfg.hang_timeout,
        "healthy_rate": rate,
        "hanging": stuck.describe(),
        "check": found.describe(),
    }
    b.note(f"isolation: healthy webhook {rate:,.0f} deliveries/s; hanging one: {stuck.describe()}")
    return result


# 8 ----------------------------------------------------------------------------------------


async def backlog(b: Bench) -> dict[str, Any]:
    n = b.cfg.backlog
    window = b.cfg.backlog_seconds
    async with fresh_postgres(b.cfg.postgres_url) as url:
        dep = b.deployment("backlog", url)
        procs = Processes()
        try:
            api_proc = Tidings(dep, "api", "backlog-api")
            await procs.start(api_proc)
            async with Api(api_proc.base, dep.operator_key) as api:
                (webhook,) = await _open(api, f"{b.receiver.url}/backlog/hook")
                pub = await api.publish(EVENT_TYPE, 1, concurrency=1)
            _check_published(b, pub, 1, "backlog")
            await procs.stop(api_proc)
            (template,) = pub.sent
            with b.task(f"backlog: inserting {n:,} due notifications", total=n) as advance:
                await clone_notifications(url, template, n, time.time_ns() // 1000, advance)
            b.receiver.read_new()
            worker = procs.add(Tidings(dep, "worker", "backlog-worker"))
            worker.start()
            begin = time.time()
            peak_rss = 0
            received: set[str] = set()
            rx_path = "/backlog/hook"
            with b.task(f"backlog: draining for {window:.0f} s", total=window) as advance:
                while (elapsed := time.time() - begin) < window:
                    await asyncio.sleep(0.1)
                    advance(min(0.1, window - elapsed))
                    peak_rss = max(peak_rss, worker.memory().get("VmRSS", 0))
                    if not worker.alive():
                        raise RunFailed(f"backlog: the worker exited: {worker.tail(600)}")
                    received.update(r.id for r in b.receiver.read_new() if r.path == rx_path)
            memory = worker.memory()
            hwm = max(memory.get("VmHWM", 0), peak_rss)
            in_window = len(received)
            await procs.stop(worker)
            late = {r.id for r in b.receiver.settle() if r.path == rx_path}
            received |= late
            found = await outcomes(dep, webhook, attempts=False)
        finally:
            await procs.stop()
            b.finish(procs)
    succeeded = found.by_status.get("succeeded", 0)
    if found.total != n:
        raise RunFailed(f"backlog: {n:,} notifications inserted, {found.total:,} in the database")
    if succeeded > len(received):
        raise RunFailed(
            f"backlog: {succeeded:,} notifications recorded succeeded but only "
            f"{len(received):,} reached the receiver"
        )
    if not received:
        raise RunFailed(f"backlog: the worker delivered nothing in {window:.0f} s")
    result = {
        "notifications": n,
        "window_seconds": window,
        "peak_rss_mb": hwm / 1024,
        "delivered_in_window": in_window,
        "delivered_total": len(received),
        "recorded_succeeded": succeeded,
        "check": found.describe(),
    }
    b.note(
        f"backlog: peak RSS {hwm / 1024:,.0f} MB; {in_window:,} of {n:,} delivered in "
        f"{window:.0f} s (from the worker's start)"
    )
    return result


RUNS = {
    "ceiling": ceiling,
    "sqlite": sqlite,
    "postgres": postgres,
    "latency": latency,
    "ingest": ingest,
    "fanout": fanout,
    "isolation": isolation,
    "backlog": backlog,
}
NEEDS_POSTGRES = {"postgres", "backlog"}
