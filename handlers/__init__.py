"""Service-task handlers: plain functions registered by name. All side effects of a process
(notifications, referrals, numbering, look-ups) live here, never in diagrams."""

from .registry import HandlerRegistry, default_registry

__all__ = ["HandlerRegistry", "default_registry"]
