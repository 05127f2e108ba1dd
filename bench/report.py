"""The one table ``make bench`` prints, and the same figures as JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from common import ROOT

# Issue 8's targets on a 2-core machine.
TARGETS = {
    "sqlite_ratio": 0.5,
    "postgres_2w_ratio": 0.5,
    "latency_p50_ms": 5.0,
    "latency_p99_ms": 25.0,
    "ingest_rate": 3000.0,
    "fanout_seconds": 1.0,
    "isolation_share": 0.9,
    "backlog_rss_mb": 300.0,
}


@dataclass
class Row:
    run: str
    figure: str
    value: str
    versus: str = ""
    met: bool | None = None  # None: no target

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "figure": self.figure,
            "value": self.value,
            "versus": self.versus,
            "met": self.met,
        }


def _ratio_row(
    run: str, figure: str, rate: float, ceiling: float | None, target: float | None
) -> Row:
    value = f"{rate:,.0f} deliveries/s"
    if not ceiling:
        return Row(run, figure, value, "no ceiling measured")
    ratio = rate / ceiling
    if target is None:
        return Row(run, figure, value, f"{ratio:.2f} of ceiling")
    return Row(run, figure, value, f"{ratio:.2f} of ceiling (≥ {target})", ratio >= target)


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """The table's rows, in run order; a skipped or failed run gets one row saying so."""
    out: list[Row] = []
    ceiling: float | None = None

    def has_figures(run: str, label: str) -> bool:
        r = results.get(run)
        if r is None:
            return False
        if r["status"] == "skipped":
            out.append(Row(run, label, "skipped", r["reason"]))
            return False
        if r["status"] == "failed":
            out.append(Row(run, label, "FAILED", r["reason"], False))
            # A run that failed part-way may still have measured (e.g. a few publishes
            # failed, the rest was delivered): its figures follow.
            return len(set(r) - {"status", "reason", "wall_seconds", "load"}) > 0
        return True

    if has_figures("ceiling", "1 ceiling"):
        c = results["ceiling"]
        ceiling = c["plain"]
        label = f"1 ceiling: bare aiohttp client, {c['concurrency']} in flight, 1 KiB"
        out.append(Row("ceiling", label, f"{c['plain']:,.0f} req/s", "1.00 of ceiling"))
        out.append(
            Row(
                "ceiling",
                "1 ceiling, HMAC-SHA256 signed per request",
                f"{c['signed']:,.0f} req/s",
                f"{c['signed'] / c['plain']:.2f} of ceiling",
            )
        )
    if has_figures("sqlite", "2 SQLite"):
        r = results["sqlite"]
        label = f"2 SQLite, 1 process, {r['events']:,} events"
        out.append(_ratio_row("sqlite", label, r["rate"], ceiling, TARGETS["sqlite_ratio"]))
    if has_figures("postgres", "3 PostgreSQL"):
        r = results["postgres"]
        for w, target in ((1, None), (2, TARGETS["postgres_2w_ratio"])):
            one = r[f"workers_{w}"]
            label = f"3 PostgreSQL, {w} worker{'s' if w > 1 else ''}, {one['events']:,} events"
            out.append(_ratio_row("postgres", label, one["rate"], ceiling, target))
    if has_figures("latency", "4 latency"):
        r = results["latency"]
        asked, got = r["target_rate"], r["achieved_rate"]
        rate_ok = got >= 0.95 * asked
        for q in ("p50", "p99"):
            target = TARGETS[f"latency_{q}_ms"]
            out.append(
                Row(
                    "latency",
                    f"4 latency {q} at {asked:,.0f}/s asked, {got:,.0f}/s achieved",
                    f"{r[q + '_ms']:,.1f} ms",
                    f"≤ {target:.0f} ms" + ("" if rate_ok else "; rate not reached"),
                    r[q + "_ms"] <= target and rate_ok,
                )
            )
        half = r.get("half_rate")
        if half:
            out.append(
                Row(
                    "latency",
                    f"4 latency p50 / p99 at {half['achieved_rate']:,.0f}/s "
                    "(half the rate achieved)",
                    f"{half['p50_ms']:,.1f} / {half['p99_ms']:,.1f} ms",
                    "for comparison",
                )
            )
    if has_figures("ingest", "5 ingest"):
        r = results["ingest"]
        for key, engine in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            if key in r:
                one = r[key]
                out.append(
                    Row(
                        "ingest",
                        f"5 ingest, {engine}, {one['publishers']} publishers "
                        f"(202 p50 {one['answer_p50_ms']:,.0f} ms)",
                        f"{one['rate']:,.0f} events/s",
                        f"≥ {TARGETS['ingest_rate']:,.0f}/s",
                        one["rate"] >= TARGETS["ingest_rate"],
                    )
                )
    if has_figures("fanout", "6 fan-out"):
        r = results["fanout"]
        target = TARGETS["fanout_seconds"]
        out.append(
            Row(
                "fanout",
                f"6 fan-out 1 → {r['webhooks']:,} webhooks, POST to last receipt",
                f"{r['seconds']:.2f} s",
                f"≤ {target:.0f} s",
                r["seconds"] <= target,
            )
        )
    if has_figures("isolation", "7 isolation"):
        r = results["isolation"]
        base = results.get("sqlite", {}).get("rate")
        value = f"{r['healthy_rate']:,.0f} deliveries/s"
        label = f"7 isolation: healthy beside a hanging webhook, {r['events']:,} events"
        target = TARGETS["isolation_share"]
        if base:
            share = r["healthy_rate"] / base
            out.append(
                Row(
                    "isolation", label, value, f"{share:.2f} of run 2 (≥ {target})", share >= target
                )
            )
        else:
            out.append(Row("isolation", label, value, "run 2 not measured"))
    if has_figures("backlog", "8 backlog"):
        r = results["backlog"]
        target = TARGETS["backlog_rss_mb"]
        out.append(
            Row(
                "backlog",
                f"8 backlog {r['notifications']:,} due, worker peak RSS "
                f"({r['delivered_in_window']:,} sent in {r['window_seconds']:g} s)",
                f"{r['peak_rss_mb']:,.0f} MB",
                f"≤ {target:.0f} MB",
                r["peak_rss_mb"] <= target,
            )
        )
    return out


def table(title: str, caption: str, lines: list[Row]) -> Table:
    t = Table(title=title, caption=caption, caption_justify="left")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("vs ceiling / target")
    t.add_column("met", justify="center")
    for row in lines:
        met = "" if row.met is None else ("met" if row.met else "[bold red]not met[/]")
        t.add_row(row.figure, row.value, row.versus, met)
    return t


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def tidings_version() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src")),
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
