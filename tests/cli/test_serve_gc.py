"""``tidings serve`` sets Python's garbage collector for a server (runtime/gc_tuning.py), as an
operator sees it in ``/metrics``: young collections are rare, and start-up's objects are out
of the collector's sight, so full collections (which stop every request and delivery while
they traverse the heap) stay few."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.partner import open_account_at
from tests.support.processes import OPERATOR_KEY, Cluster, publish_many
from tests.support.receiver import Receiver

# With the interpreter's defaults (a young collection every 700 allocations) a process taking
# these events and their deliveries makes dozens of young collections meanwhile (75 in a run).
EVENTS = 300


def test_a_busy_server_collects_rarely(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    with Receiver() as receiver, Cluster(url, tmp_path) as cluster:
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Collected", ["order.paid"])
        hook = client.post("/v1/webhooks", json={"url": receiver.url, "eventTypes": ["order.paid"]})
        assert hook.status_code == 201, hook.text
        before = _collections(process.base_url)
        accepted = publish_many(
            process.base_url, str(client.headers["X-Api-Key"]), ["order.paid"], EVENTS
        )
        assert len(accepted) == EVENTS
        receiver.wait(EVENTS)
        after = _collections(process.base_url)
    young, _middle, full = (a - b for a, b in zip(after, before, strict=True))
    assert young <= 5, f"{young:.0f} young collections while taking {EVENTS} events"
    assert full == 0, f"{full:.0f} full collections while taking {EVENTS} events"


def _collections(base_url: str) -> list[float]:
    """python_gc_collections_total of generations 0, 1 and 2, as /metrics reports them."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        if line.startswith("python_gc_collections_total{"):
            generation = line.split('generation="', 1)[1].split('"', 1)[0]
            found[generation] = float(line.rsplit(" ", 1)[1])
    assert set(found) == {"0", "1", "2"}, f"python_gc_collections_total in /metrics: {found}"
    return [found["0"], found["1"], found["2"]]
