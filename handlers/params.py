"""Reading service-task parameters: values arrive already evaluated from the diagram, so a
missing or mistyped one is a modelling error and is reported by name instead of defaulted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def required_text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"parameter '{name}' is required")
    if not isinstance(value, str):
        raise ValueError(f"parameter '{name}' must be text, got {type(value).__name__}")
    return value.strip()


def optional_text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"parameter '{name}' must be text, got {type(value).__name__}")
    return value.strip() or None


def flag(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"parameter '{name}' must be true or false, got {value!r}")
    return value


def optional_number(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"parameter '{name}' must be a number, got {value!r}")
    return float(value)


def one_of(value: str | None, name: str, allowed: frozenset[str]) -> str | None:
    if value is not None and value not in allowed:
        raise ValueError(f"parameter '{name}' must be one of {sorted(allowed)}, got {value!r}")
    return value
