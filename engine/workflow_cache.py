"""Workflows kept in memory between operations, so the next step of an instance need not
restore it from its stored state. An entry is good only for the exact row it was saved as:
instance id, optimistic version and deployment. Another process's change moves the version
and the entry is simply not used. An operation takes its workflow out, so no two threads
share one, and it comes back only after the operation committed with the workflow as saved:
a failed or rolled-back step never leaves a changed workflow behind."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .models import Instance
    from .spiff import Instance as Workflow

BORROWED = "engine.borrowed_workflows"  # in `Session.info`: instance id -> (row, workflow)


class WorkflowCache:
    """At most `size` workflows, the least recently used dropped first; size 0 keeps none."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("the workflow cache size cannot be negative")
        self.size = size
        self._entries: OrderedDict[int, tuple[int, int, Workflow]] = OrderedDict()
        self._lock = threading.Lock()

    def kept(self) -> list[int]:
        """The instances whose workflows are kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def take(self, row: Instance) -> Workflow | None:
        """The workflow saved as `row`, if kept, out of the cache: whoever takes it lends it
        to their session, which brings it back when it commits."""
        with self._lock:
            entry = self._entries.get(row.id)
            if entry is None or entry[0] > row.version:  # kept after a newer step: keep it
                return None
            del self._entries[row.id]
        return entry[2] if entry[:2] == (row.version, row.deployment_id) else None

    def lend(self, session: Session, row: Instance, workflow: Workflow) -> None:
        """`workflow` is `row`'s in this session: kept after commit if then saved as is."""
        session.info.setdefault(BORROWED, {})[row.id] = (row, workflow)

    def keep_committed(self, session: Session) -> None:
        """Called after the session committed (a session that rolled back is dropped with what
        it borrowed): keep its workflows that are as stored."""
        borrowed = session.info.pop(BORROWED, None)
        if not borrowed or not self.size:
            return
        with self._lock:
            for row, workflow in borrowed.values():
                if workflow.saved_waits is not None or not workflow.stored_as_is:
                    continue  # changed since saved, or not what a restore would give
                if workflow.completed:
                    continue  # never to step again
                kept = self._entries.get(row.id)
                if kept is not None and kept[0] > row.version:
                    continue  # a newer step's is kept already
                workflow.detach()
                self._entries[row.id] = (row.version, row.deployment_id, workflow)
                self._entries.move_to_end(row.id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
