"""Numbers as requests give them in text: whole numbers (ids, versions, offsets) bounded by what
the database columns hold, since a larger one can name nothing and binding it would fail inside
a statement; decimals (coordinates) in plain notation only."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import IntegerConverter, Map

from engine.models import LARGEST_VERSION

# SQLite's INTEGER and PostgreSQL's BIGINT, the type of every id column, hold no more (deployment
# versions, 32-bit: engine.models.LARGEST_VERSION).
LARGEST_ID = 2**63 - 1
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_WHOLE = re.compile(r"[0-9]{1,19}")
# float() also takes "1_0", "nan" and "infinity", which no form field means.
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")


def whole_number(raw: str, maximum: int = LARGEST_ID) -> int | None:
    """`raw` as an int from 0 to `maximum`; None when it is not one."""
    text = raw.strip()
    if not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


def decimal_number(raw: str) -> float | None:
    """`raw` as a float when written as a plain decimal number; None when it is not one."""
    text = raw.strip()
    return float(text) if _DECIMAL.fullmatch(text) else None


class IdConverter(IntegerConverter):
    """`<int:...>` in a route, no larger than an id column holds: a larger one matches no route
    (404), as an id that does not exist."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


class VersionConverter(IdConverter):
    """`<version:...>`: a deployment version, no larger than its column holds."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, max=LARGEST_VERSION, **kwargs)


CONVERTERS = {"int": IdConverter, "version": VersionConverter}
