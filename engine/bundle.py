"""Turning a bundle of files into a deployable, fully checked unit: every name the diagrams use
must resolve, and every fault is reported with file, line and element before anything is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from lxml import etree

from . import spiff, validation
from .contracts import FormCompiler
from .errors import BundleInvalid, Problem

KINDS = {".bpmn": "bpmn", ".dmn": "dmn", ".json": "form"}


@dataclass
class CheckedBundle:
    files: dict[str, bytes]
    kinds: dict[str, str]
    content_hash: str
    parsed: spiff.ParsedBundle


def content_hash(files: Mapping[str, bytes]) -> str:
    """Same files, same hash, whatever order they came in: identical content deploys once."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def check_bundle(
    files: Mapping[str, bytes],
    handler_names: set[str],
    compile_form: FormCompiler | None,
) -> CheckedBundle:
    """Validate everything; raise BundleInvalid listing all problems found."""
    problems: list[Problem] = []
    kinds: dict[str, str] = {}
    for name in files:
        kind = KINDS.get(PurePath(name).suffix.lower())
        if kind is None:
            problems.append(Problem(name, "unknown file type (expected .bpmn, .dmn or .json)"))
        else:
            kinds[name] = kind
    if not any(kind == "bpmn" for kind in kinds.values()):
        problems.append(Problem("(bundle)", "no BPMN file in the bundle"))

    bpmn = {n: c for n, c in files.items() if kinds.get(n) == "bpmn"}
    dmn = {n: c for n, c in files.items() if kinds.get(n) == "dmn"}
    forms = {PurePath(n).stem: (n, c) for n, c in files.items() if kinds.get(n) == "form"}

    schema = validation.load_schema(spiff.XSD_PATH)
    for name, content in bpmn.items():
        problems.extend(validation.check_bpmn(name, content, schema))
    for name, content in dmn.items():
        problems.extend(validation.check_dmn(name, content))
    problems.extend(_check_forms(forms, compile_form))
    if problems:
        raise BundleInvalid(problems)

    try:
        parsed = spiff.parse_bundle(bpmn, dmn)
    except spiff.ParseFailed as failed:
        raise BundleInvalid(failed.problems) from None
    problems.extend(_check_names(parsed, bpmn, set(forms), handler_names))
    if problems:
        raise BundleInvalid(problems)
    return CheckedBundle(dict(files), kinds, content_hash(files), parsed)


def _check_forms(
    forms: Mapping[str, tuple[str, bytes]], compile_form: FormCompiler | None
) -> list[Problem]:
    if compile_form is None:
        return []
    problems = []
    for key, (name, content) in forms.items():
        try:
            compile_form(key, content)
        except ValueError as err:
            problems.append(Problem(name, str(err), element=getattr(err, "path", None)))
    return problems


def _check_names(
    parsed: spiff.ParsedBundle,
    bpmn: Mapping[str, bytes],
    form_keys: set[str],
    handler_names: set[str],
) -> list[Problem]:
    locate = _Locator(bpmn)
    problems = []
    for pid in parsed.process_ids:
        for task in parsed.user_tasks[pid]:
            if not task.form_key:
                problems.append(locate(task.element_id, "user task has no formKey property"))
            elif task.form_key not in form_keys:
                problems.append(locate(task.element_id, f"form '{task.form_key}' not found"))
            if not task.candidate_groups:
                problems.append(locate(task.element_id, "user task has no candidate group or lane"))
        for service in parsed.service_tasks[pid]:
            if service.operation not in handler_names:
                message = f"no handler registered as '{service.operation}'"
                problems.append(locate(service.element_id, message))
    return list(dict.fromkeys(problems))


class _Locator:
    """Finds the file and line of an element id across the bundle's BPMN files."""

    def __init__(self, bpmn: Mapping[str, bytes]) -> None:
        self._index: dict[str, tuple[str, int | None]] = {}
        for name, content in bpmn.items():
            for element in etree.fromstring(content, validation.safe_parser()).iter():
                element_id = element.get("id") if isinstance(element.tag, str) else None
                if element_id:
                    self._index.setdefault(element_id, (name, element.sourceline))

    def __call__(self, element_id: str, message: str) -> Problem:
        file, line = self._index.get(element_id, ("(bundle)", None))
        return Problem(file, message, line=line, element=element_id)
