"""Errors the engine raises: each names what is wrong so callers can answer with a precise 4xx."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployed file: where it is and what is wrong."""

    file: str
    message: str
    line: int | None = None
    element: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.element:
            where += f" [{self.element}]"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "element": self.element,
            "message": self.message,
        }


class EngineError(Exception):
    """Base of every error the engine raises on purpose; `code` is stable for API clients."""

    code = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    code = "not_found"


class Conflict(EngineError):
    """The object changed meanwhile or is no longer in a state that allows the action."""

    code = "conflict"


class Forbidden(EngineError):
    code = "forbidden"


class InvalidData(EngineError):
    """Submitted data failed the task's form; `fields` maps each field to its messages."""

    code = "invalid_data"

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.fields = fields


class BundleInvalid(EngineError):
    """A deployment bundle was refused; `problems` lists every file, line and element at fault."""

    code = "bundle_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class HandlerFailed(EngineError):
    """A service task's handler raised: names the handler and the task so an admin can act."""

    code = "handler_failed"

    def __init__(self, handler: str, element: str, cause: str) -> None:
        super().__init__(f"handler '{handler}' failed in task '{element}': {cause}")
        self.handler = handler
        self.element = element
        self.cause = cause


class WorkflowFailed(EngineError):
    """A step of the process itself failed (script, expression, gateway with no path)."""

    code = "workflow_failed"


class StartOver(Exception):  # noqa: N818 - a signal to the engine, never seen by callers
    """What an operation read changed before it wrote anything it could not take back: the
    engine rolls it back and runs it again. Never leaves the engine."""


# PostgreSQL gives up one of two transactions that wait on each other's rows (deadlock) or
# whose snapshot another one overtook (serialization failure): that one lost a race.
RACE_LOST_SQLSTATES = frozenset({"40P01", "40001"})


def lost_a_race(err: Exception) -> bool:
    """Whether a database error only says another operation got to the same rows first, which
    the caller answers as a conflict to reload and retry, not as a fault."""
    return getattr(getattr(err, "orig", None), "sqlstate", None) in RACE_LOST_SQLSTATES
