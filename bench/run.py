"""Tidings benchmark (issue 8): measures on this machine the raw HTTP ceiling and Tidings'
durable delivery, latency, ingest, fan-out, isolation and backlog memory, and prints one table.

    make bench                      # full counts (50,000 events, 1,000,000 backlog ...)
    make bench-quick                # small counts, under a minute; CI: fails only on lost
                                    # notifications, a hang or a crash, never on speed
    .venv/bin/python bench/run.py --only ceiling,sqlite --events 20000

Every Tidings process is ``python -m tidings serve`` set up by TIDINGS_* variables; any
TIDINGS_* variable in this environment is passed on to them (e.g. TIDINGS_WEBHOOK_CONCURRENCY).
PostgreSQL runs create and drop a database of their own on --database-url's server; when that
server cannot be reached they are skipped with the reason (an error if TIDINGS_REQUIRE_POSTGRES
is set). Results are also written as JSON (bench/results/, not tracked by git)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

import load
from common import HERE, RunFailed, use_uvloop
from database import DEFAULT_POSTGRES, postgres_problem
from issue_table import issue_rows, issue_table
from receivers import make_receiver
from report import machine, rows, table, tidings_version, write_json
from runs import NEEDS_POSTGRES, RUN_NAMES, RUNS, Bench, Config

QUICK = {
    "events": 500,
    "ceiling_seconds": 1.0,
    "latency_seconds": 0.5,
    "fanout": 100,
    "isolation_events": 300,
    "backlog": 10_000,
    "backlog_seconds": 8.0,
    "stall_seconds": 30.0,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=doc.split("\n\n")[0],
        epilog="Runs: " + ", ".join(RUN_NAMES),
    )
    parser.add_argument("--quick", action="store_true", help="small counts (make bench-quick)")
    parser.add_argument("--only", default="", help="comma-separated runs to do (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated runs to leave out")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TIDINGS_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="PostgreSQL server the runs create their databases on (default: %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument(
        "--receiver",
        choices=("auto", "nginx", "aiohttp"),
        default="auto",
        help="auto: nginx if installed, else aiohttp.web",
    )
    d = Config()
    for name, help_text in (
        ("events", "events published in runs 2, 3 and 5"),
        ("concurrency", "requests in flight for the ceiling; publishers in runs 2, 3, 5, 7"),
        ("ceiling_seconds", "measured seconds of each ceiling run"),
        ("latency_rate", "events per second in run 4"),
        ("latency_seconds", "seconds of publishing in run 4"),
        ("fanout", "webhooks in run 6"),
        ("isolation_events", "events in run 7"),
        ("hang_timeout", "TIDINGS_DELIVERY_TIMEOUT in run 7"),
        ("backlog", "due notifications inserted in run 8"),
        ("backlog_seconds", "how long the worker drains in run 8"),
        ("stall_seconds", "a run fails when no receipt arrives for this long"),
    ):
        default = getattr(d, name)
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=None,
            help=f"{help_text} (full: {default:,}; quick: {QUICK.get(name, default):,})",
        )
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for f in dataclasses.fields(Config):
        given = getattr(args, f.name, None)
        if given is not None and f.name not in ("quick", "postgres_url", "postgres_skip"):
            values[f.name] = given
    return Config(quick=args.quick, postgres_url=args.database_url, **values)


def selected(args: argparse.Namespace) -> list[str]:
    def names(text: str) -> set[str]:
        found = {n.strip() for n in text.split(",") if n.strip()}
        unknown = found - set(RUN_NAMES)
        if unknown:
            raise SystemExit(f"unknown runs: {', '.join(sorted(unknown))}; know {RUN_NAMES}")
        return found

    only = names(args.only) or set(RUN_NAMES)
    return [n for n in RUN_NAMES if n in only and n not in names(args.skip)]


async def bench(args: argparse.Namespace, console: Console, document: dict[str, Any]) -> bool:
    cfg = make_config(args)
    chosen = selected(args)
    if args.no_postgres:
        cfg.postgres_skip = "--no-postgres"
    elif NEEDS_POSTGRES & set(chosen) or "ingest" in chosen:
        cfg.postgres_skip = await postgres_problem(cfg.postgres_url)
        if cfg.postgres_skip and os.environ.get("TIDINGS_REQUIRE_POSTGRES"):
            raise RunFailed(f"TIDINGS_REQUIRE_POSTGRES is set: {cfg.postgres_skip}")
    if cfg.postgres_skip:
        console.print(f"[yellow]PostgreSQL runs skipped:[/] {cfg.postgres_skip}")
    receiver, why = make_receiver(args.receiver, console.print)
    receiver.start()
    console.print(f"Receiver: {receiver.describe()} — {why}")
    document["receiver"] = {"kind": receiver.kind, "version": receiver.version, "why": why}
    document["config"] = dataclasses.asdict(cfg)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    progress = Progress(*columns, console=console, transient=True)
    b = Bench(cfg, receiver, console, progress)
    ok = True
    whole = load.snapshot()
    # A run that takes longer than this has hung, whatever its stall detector says.
    cap = 300.0 if cfg.quick else 3600.0
    try:
        with progress:
            for name in chosen:
                if name in NEEDS_POSTGRES and cfg.postgres_skip:
                    b.results[name] = {"status": "skipped", "reason": cfg.postgres_skip}
                    continue
                console.print(f"[bold]{name}[/]")
                begin = time.monotonic()
                before = load.snapshot()
                b.failures.clear()
                try:
                    figures = await asyncio.wait_for(RUNS[name](b), timeout=cap)
                    if b.failures:
                        ok = False
                        reason = "; ".join(b.failures)
                        b.results[name] = {"status": "failed", "reason": reason, **figures}
                        console.print(f"  [bold red]{name} FAILED:[/] {reason}")
                    else:
                        b.results[name] = {"status": "ok", **figures}
                except (RunFailed, TimeoutError) as exc:
                    ok = False
                    reason = str(exc) or f"did not finish within {cap:.0f} s"
                    b.results[name] = {"status": "failed", "reason": reason}
                    console.print(f"  [bold red]{name} FAILED:[/] {reason}")
                except Exception as exc:
                    ok = False
                    b.results[name] = {"status": "failed", "reason": repr(exc)}
                    console.print(f"  [bold red]{name} FAILED:[/]")
                    console.print(traceback.format_exc())
                b.results[name]["wall_seconds"] = time.monotonic() - begin
                b.results[name]["load"] = busy = load.between(before, load.snapshot())
                style = "[bold yellow]" if busy["busy_warning"] else "[dim]"
                console.print(f"  {style}{name}: {load.describe(busy)}[/]")
    finally:
        receiver.stop()
        if args.keep or not ok or b.problems:
            console.print(f"Work directory with the processes' logs kept: {b.work_root}")
        else:
            shutil.rmtree(b.work_root, ignore_errors=True)
    document["load"] = overall = load.between(whole, load.snapshot())
    lines = rows(b.results)
    mode = "quick" if cfg.quick else "full"
    info = document["machine"]
    version = document["tidings"]
    title = f"Tidings benchmark ({mode})"
    caption = (
        f"{info['cpus']} CPUs ({info['cpu_model']}), load {info['load_average_at_start'][0]:.2f} "
        f"at start; receiver {receiver.describe()}; Tidings {version['commit']}"
        f"{' + uncommitted changes' if version['dirty'] else ''}; {document['loop']} loop."
    )
    if cfg.quick:
        caption += "\nQuick mode: small counts; the targets are for the full run."
    caption += f"\nDuring the runs: {load.describe(overall)}."
    busy_runs = [n for n, r in b.results.items() if r.get("load", {}).get("busy_warning")]
    if busy_runs:
        caption += (
            f"\nWARNING: something else was running during {', '.join(busy_runs)} "
            f"(over {load.BUSY_WARNING:.0%} of the machine): those figures are low."
        )
    console.print()
    console.print(table(title, caption, lines))
    console.print()
    console.print(issue_table(issue_rows(b.results), caption))
    checks = []
    for name, figures in b.results.items():
        for key, one in [("", figures)] + [(k, v) for k, v in figures.items() if "workers_" in k]:
            if isinstance(one, dict) and isinstance(one.get("check"), str):
                label = f"{name} ({key.replace('workers_', '')} worker(s))" if key else name
                checks.append(f"{label}: {one['check']}")
    if checks:
        console.print("[bold]The databases after each run[/] (each run fails unless every")
        console.print("notification it published succeeded with exactly one attempt recorded):")
        for line in checks:
            console.print(f"  {line}")
    if b.problems:
        console.print("[bold yellow]Logged by Tidings or seen by the harness:[/]")
        for line in b.problems:
            console.print(f"  {line}")
    document.update(
        {
            "runs": b.results,
            "rows": [r.as_dict() for r in lines],
            "issue16": [r.as_dict() for r in issue_rows(b.results)],
            "problems": b.problems,
            "ok": ok,
        }
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    loop = use_uvloop()
    console = Console()
    if not console.is_terminal:
        console = Console(width=132)  # a log or a pipe: room for the table's rows
    started = time.time()
    document: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine(),
        "tidings": tidings_version(),
        "loop": loop,
    }
    try:
        ok = asyncio.run(bench(args, console, document))
    except RunFailed as exc:
        console.print(f"[bold red]bench failed:[/] {exc}")
        ok = False
    document["wall_seconds"] = time.time() - started
    default = HERE / "results" / f"latest-{document['mode']}.json"
    path = args.json or default
    write_json(path, document)
    console.print(
        f"Wall time {document['wall_seconds']:.0f} s. Results: {path}"
        + ("" if ok else "  [bold red]Some runs failed.[/]")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
