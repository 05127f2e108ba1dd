"""How busy the machine was while a run measured, from /proc: the idle share of every CPU, the
share the benchmark's own processes took, and what else was running (other engineers' tests,
a build): figures taken on a shared machine are only comparable when that share is small."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
# Above this share of the machine taken by others, a run's figures are flagged.
BUSY_WARNING = 0.10


def _cpu_ticks() -> tuple[int, int]:
    """(all ticks, idle ticks) over every CPU since boot."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    total = sum(values[:8])
    idle = values[3] + values[4]
    return total, idle


def _processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks used so far)."""
    found: dict[int, tuple[int, str, int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        rest = raw[raw.rfind(")") + 2 :].split()
        # fields after the name: state ppid ... utime(12) stime(13)
        found[int(entry.name)] = (int(rest[1]), name, int(rest[11]) + int(rest[12]))
    return found


def _ours(procs: dict[int, tuple[int, str, int]], root: int) -> set[int]:
    """The benchmark's process and its descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    mine, todo = set(), [root]
    while todo:
        pid = todo.pop()
        mine.add(pid)
        todo += children.get(pid, [])
    return mine


def _own_ticks() -> int:
    """CPU ticks of this process and of its children that have exited (and been waited for)."""
    t = os.times()
    return round((t.user + t.system + t.children_user + t.children_system) * TICKS)


@dataclass
class Snapshot:
    total: int
    idle: int
    own: int
    procs: dict[int, tuple[int, str, int]] = field(default_factory=dict)


def snapshot() -> Snapshot:
    total, idle = _cpu_ticks()
    return Snapshot(total, idle, _own_ticks(), _processes())


def between(start: Snapshot, end: Snapshot) -> dict[str, Any]:
    """The machine's load between two snapshots: shares of all CPUs (1.0: every core busy)."""
    elapsed = max(1, end.total - start.total)
    idle = (end.idle - start.idle) / elapsed
    root = os.getpid()
    ours = _ours(end.procs, root) | _ours(start.procs, root)
    live_own = 0
    others: Counter[str] = Counter()
    for pid, (_, name, ticks) in end.procs.items():
        before = start.procs.get(pid)
        used = ticks - (before[2] if before and before[1] == name else 0)
        if pid in ours:
            if pid != root:
                live_own += used
        else:
            others[name] += used
    own = (end.own - start.own + live_own) / elapsed
    other = max(0.0, 1.0 - idle - own)
    # PostgreSQL's processes are not children of the benchmark, but its runs use them: they
    # are shown, not counted as something else running (other users of the server are, alas).
    postgres = others.pop("postgres", 0) / elapsed
    top = [
        {"command": name, "cpu_share": round(ticks / elapsed, 3)}
        for name, ticks in others.most_common(4)
        if ticks > 0
    ]
    return {
        "idle_share": round(idle, 3),
        "bench_share": round(own, 3),
        "other_share": round(other, 3),
        "postgres_share": round(postgres, 3),
        "busiest_others": top,
        "busy_warning": other - postgres > BUSY_WARNING,
    }


def describe(load: dict[str, Any]) -> str:
    text = (
        f"machine idle {load['idle_share']:.0%}, the benchmark {load['bench_share']:.0%}, "
        f"PostgreSQL {load['postgres_share']:.0%}, "
        f"other processes {max(0.0, load['other_share'] - load['postgres_share']):.0%}"
    )
    if load["busiest_others"]:
        names = ", ".join(
            f"{o['command']} {o['cpu_share']:.0%}" for o in load["busiest_others"][:3]
        )
        text += f" ({names})"
    return text
