"""Python's cyclic garbage collector, set for a long-running server process.

With the interpreter's defaults (a young collection every 700 container allocations, a full
one whenever the survivors grew by a quarter) a busy process spent about a sixth of its time
collecting: 5.4 s of a 33 s delivery run on SQLite, with full collections of up to 230 ms
that stopped every request and delivery meanwhile (docs/performance.md, fifth part). Nearly
all of a delivery's or a request's objects die young, by reference counting; what the
collector traverses again and again is what start-up built (modules, the app, its routes and
models), which never becomes garbage.

So: young collections every ``YOUNG`` allocations, and start-up's objects moved out of the
collector's sight once the server is up (``gc.freeze``). Garbage in reference cycles is still
collected, in fewer, larger young collections; a full collection still runs, after ``FULL``
middle ones."""

from __future__ import annotations

import gc

YOUNG = 50_000
MIDDLE = 20
FULL = 10


def tune() -> None:
    """At process start: collect less often."""
    gc.set_threshold(YOUNG, MIDDLE, FULL)


def freeze_startup() -> None:
    """Once the server is up: collect what start-up left over, then stop traversing the
    rest on every full collection."""
    gc.collect()
    gc.freeze()
