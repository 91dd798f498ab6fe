"""The composition root: the one place that wires the engine to handlers and forms."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import forms
import handlers
from engine import Clock, Engine

from .settings import Settings


class TaskForm:
    """A compiled form as the engine uses it: after a valid submission every field of the form
    is in the task data, None when left empty, so gateways and notices can test it."""

    def __init__(self, form: forms.CompiledForm) -> None:
        self.form = form

    def validate(self, data) -> tuple[dict, dict[str, list[str]]]:
        clean, errors = self.form.validate(data)
        if not errors:
            for field in self.form.fields:
                if not field.read_only:
                    clean.setdefault(field.name, None)
        return clean, errors


def compile_form(key: str, content: bytes) -> TaskForm:
    return TaskForm(forms.compile_form(key, content))


def handler_table(overrides: Mapping | None = None) -> dict:
    registry = handlers.default_registry()
    return registry.with_overrides(**overrides) if overrides else dict(registry)


def build_engine(
    settings: Settings,
    *,
    handler_overrides: Mapping | None = None,
    clock: Clock | None = None,
) -> Engine:
    table = handler_table(handler_overrides)
    return Engine(
        settings.database_url,
        handlers=table,
        compile_form=compile_form,
        clock=clock,
        task_attributes=settings.task_attributes,
        task_search=settings.task_search,
        workflow_cache=settings.workflow_cache,
    )


def bundle_files(*directories: Path) -> dict[str, bytes]:
    """Every BPMN, DMN and form file of the given folders, named by file name."""
    files: dict[str, bytes] = {}
    for directory in directories:
        for path in sorted(directory.iterdir()):
            if path.suffix in {".bpmn", ".dmn", ".json"} and path.is_file():
                files[path.name] = path.read_bytes()
    return files
