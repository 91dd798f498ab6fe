"""The name -> function table that diagrams refer to with `spiffworkflow:serviceTaskOperator`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .transport import Transport

HandlerFunc = Callable[[dict[str, Any], Any], Any]


class HandlerRegistry(Mapping[str, HandlerFunc]):
    """A read-only mapping once built; `register` refuses a name twice so a typo cannot silently
    replace a handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, HandlerFunc] = {}

    def register(self, name: str) -> Callable[[HandlerFunc], HandlerFunc]:
        def add(func: HandlerFunc) -> HandlerFunc:
            if name in self._handlers:
                raise ValueError(f"handler '{name}' is registered twice")
            self._handlers[name] = func
            return func

        return add

    def with_overrides(self, **overrides: HandlerFunc) -> dict[str, HandlerFunc]:
        """A copy with some handlers swapped by name: how tests replace a transport."""
        unknown = set(overrides) - set(self._handlers)
        if unknown:
            raise KeyError(f"no handler named {sorted(unknown)}")
        return {**self._handlers, **overrides}

    def __getitem__(self, name: str) -> HandlerFunc:
        return self._handlers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)


def default_registry(*, transport: Transport | None = None) -> HandlerRegistry:
    """The handlers the shipped processes use, each module adding its own names. `transport`
    fixes where this registry's notices go (default: the process-wide one, see
    `handlers.transport.set_transport`)."""
    # Imported here so that importing `handlers` stays cheap and free of side effects.
    from . import (
        complaints,
        deadlines,
        disclosure,
        notices,
        referrals,
        repeats,
        routing,
        sampling,
    )

    registry = HandlerRegistry()
    complaints.register(registry)
    notices.register(registry, transport=transport)
    routing.register(registry)
    repeats.register(registry)
    referrals.register(registry)
    disclosure.register(registry)
    deadlines.register(registry)
    sampling.register(registry)
    return registry
