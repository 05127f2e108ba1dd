"""Sources: inbound endpoints partners push to, always read within one account (except by
id from the ingest URL, which names no account)."""

from __future__ import annotations

from tidings.store.owned import Owned
from tidings.store.tables import sources

_rows = Owned(sources)
get = _rows.get
by_id = _rows.by_id
page = _rows.page
insert = _rows.insert
update = _rows.update
delete = _rows.delete
