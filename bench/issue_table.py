"""Issue 16's table: each of its figures as the issue measured it ("before", fixed), as this
machine measured it before the issue's work (fixed), and as this run measures it, with the
ratio to this run's ceiling and the target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table


@dataclass
class IssueRow:
    figure: str
    before: str  # the issue's "measured" column
    baseline: str  # before the round's work (08f80dd), measured on 2026-12-03's machine
    now: str
    target: str
    met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _get(results: dict[str, Any], *path: str) -> Any:
    """A figure of a run that completed (or measured before failing), else None."""
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node or node[key] is None:
            return None
        node = node[key]
    return node


def _of_ceiling(rate: float | None, ceiling: float | None, unit: str = "") -> tuple[str, float]:
    if rate is None:
        return "not measured", 0.0
    if not ceiling:
        return f"{rate:,.0f}{unit} (no ceiling)", 0.0
    return f"{rate:,.0f}{unit} ÷ {ceiling:,.0f} = {rate / ceiling:.2f}", rate / ceiling


def issue_rows(results: dict[str, Any]) -> list[IssueRow]:
    ceiling = _get(results, "ceiling", "plain")
    out: list[IssueRow] = []

    def ratio_row(figure: str, rate: Any, before: str, baseline: str, target: float) -> None:
        text, ratio = _of_ceiling(rate, ceiling)
        met = None if rate is None or not ceiling else ratio >= target
        out.append(IssueRow(figure, before, baseline, text, f"≥ {target}", met))

    out.append(
        IssueRow(
            "ceiling: bare aiohttp client, req/s",
            "6,824",
            "14,845",
            f"{ceiling:,.0f}" if ceiling else "not measured",
            "",
        )
    )
    ratio_row(
        "SQLite, one process, deliveries/s ÷ ceiling",
        _get(results, "sqlite", "rate"),
        "1,399 ÷ 6,824 = 0.21",
        "2,019 ÷ 14,845 = 0.14",
        0.5,
    )
    ratio_row(
        "PostgreSQL, 2 workers ÷ ceiling",
        _get(results, "postgres", "workers_2", "rate"),
        "529 ÷ 6,824 = 0.08",
        "801 ÷ 14,845 = 0.05",
        0.4,
    )
    sustained = _get(results, "latency", "sustained_rate")
    out.append(
        IssueRow(
            "publish → receipt, one --role all process on SQLite: sustained events/s",
            "saturates at 665",
            "saturates (940/s published)",
            f"{sustained:,.0f}" if sustained else "not measured",
            "",
        )
    )
    half = _get(results, "latency", "half_rate")
    out.append(
        IssueRow(
            "  p50 / p99 at half the sustained rate",
            "115 / 257 ms at 330/s",
            "169.6 / 291.1 ms at 465/s",
            f"{half['p50_ms']:,.1f} / {half['p99_ms']:,.1f} ms at {half['achieved_rate']:,.0f}/s"
            if half
            else "not measured",
            "p50 ≤ 5 ms, p99 ≤ 25 ms",
            half["p50_ms"] <= 5 and half["p99_ms"] <= 25 if half else None,
        )
    )
    low = _get(results, "latency", "low_rate")
    out.append(
        IssueRow(
            "  p50 (p99) at 50/s",
            "7.8 ms (last note)",
            "7.7 to 8.0 ms (paced script)",
            f"{low['p50_ms']:,.1f} ms ({low['p99_ms']:,.1f} ms) at {low['achieved_rate']:,.0f}/s"
            if low
            else "not measured",
            "p50 ≤ 3 ms",
            low["p50_ms"] <= 3 if low else None,
        )
    )
    ratio_row(
        "ingest: POST /v1/events 202s/s, one API process, SQLite ÷ ceiling",
        _get(results, "ingest", "sqlite", "rate"),
        "620 ÷ 6,824 = 0.09",
        "1,256 ÷ 14,845 = 0.08",
        0.2,
    )
    ratio_row(
        "ingest, PostgreSQL ÷ ceiling",
        _get(results, "ingest", "postgres", "rate"),
        "787 ÷ 6,824 = 0.12",
        "1,313 ÷ 14,845 = 0.09",
        0.2,
    )
    delivered = _get(results, "backlog", "delivered_in_window")
    window = _get(results, "backlog", "window_seconds")
    drained = delivered / window if delivered is not None and window else None
    text, ratio = _of_ceiling(drained, ceiling, "/s")
    out.append(
        IssueRow(
            f"{_get(results, 'backlog', 'notifications') or 1_000_000:,} due on PostgreSQL: "
            "drained per second by one worker ÷ ceiling",
            "63,981 in 60 s = 1,066/s = 0.16",
            "114,912 in 60 s = 1,915/s = 0.13",
            f"{delivered:,} in {window:g} s = {text}" if drained is not None else text,
            "≥ 0.4",
            ratio >= 0.4 if drained is not None and ceiling else None,
        )
    )
    rss = _get(results, "backlog", "peak_rss_mb")
    out.append(
        IssueRow(
            "  worker peak RSS",
            "",
            "115 MB",
            f"{rss:,.0f} MB" if rss is not None else "not measured",
            "≤ 300 MB",
            rss <= 300 if rss is not None else None,
        )
    )
    seconds = _get(results, "fanout", "seconds")
    out.append(
        IssueRow(
            f"fan-out 1 → {_get(results, 'fanout', 'webhooks') or 1000:,} webhooks",
            "0.77 s",
            "0.54 s",
            f"{seconds:.2f} s" if seconds is not None else "not measured",
            "≤ 0.25 s",
            seconds <= 0.25 if seconds is not None else None,
        )
    )
    return out


def issue_table(lines: list[IssueRow], caption: str) -> Table:
    t = Table(
        title=(
            "Issue 16: before (the issue), before the round (08f80dd, measured on a quiet"
            " Intel Xeon 2-core machine), and this run"
        ),
        caption=caption,
        caption_justify="left",
    )
    t.add_column("figure")
    t.add_column("before (issue 16)", justify="right")
    t.add_column("before (08f80dd), Xeon 2026-12-03", justify="right")
    t.add_column("this run", justify="right")
    t.add_column("target")
    t.add_column("met", justify="center")
    for row in lines:
        met = "" if row.met is None else ("met" if row.met else "[bold red]not met[/]")
        t.add_row(row.figure, row.before, row.baseline, row.now, row.target, met)
    return t
