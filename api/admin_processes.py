"""What the admin Processes page (`/admin/processes` in api/admin_web.py) needs besides its
routes: uploaded parts turned into a bundle with the API's own rules (api/api_deployments.py), the
engine's refusal as one readable line per problem, and the migration form read and checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from engine import BundleInvalid, DeploymentInfo
from engine.models import LARGEST_VERSION

from .api_deployments import read_uploads
from .request_numbers import whole_number


@dataclass(frozen=True)
class MigrationForm:
    """The process and the two versions a dry run or a move is about."""

    process: str
    source: int
    target: int


def bundle_from_uploads(uploads: Iterable[FileStorage]) -> tuple[dict[str, bytes], list[str]]:
    """The API's rules (`POST /api/deployments`), so the page and the API accept exactly the
    same bundles; the problems as one line each."""
    files, problems = read_uploads(uploads, nameless=None)
    lines = [f"{name}: {message}" for name, messages in problems.items() for message in messages]
    return files, lines


def bundle_problems(err: BundleInvalid) -> list[str]:
    """`file:line [element]: message`, as the CLI prints them, so both point at the same spot."""
    return [str(problem) for problem in err.problems]


def deployed_processes(deployments: Iterable[DeploymentInfo]) -> list[str]:
    """Every process id some version holds: the choices of the migration form."""
    return sorted({pid for deployment in deployments for pid in deployment.process_ids})


def migration_form(values: Mapping[str, str]) -> tuple[MigrationForm | None, str | None]:
    """The form when it is complete and sane, else None and why (None twice: not filled in);
    the why in the reader's language, as the page shows it."""
    process = (values.get("process") or "").strip()
    raw = [(values.get(key) or "").strip() for key in ("from", "to")]
    if not process and not any(raw):
        return None, None
    if not process:
        return None, _("Choose a process.")
    versions = [whole_number(value, LARGEST_VERSION) for value in raw]
    if not all(versions):
        return None, _("Choose both versions.")
    source, target = versions
    if source == target:
        return None, _("Choose two different versions.")
    return MigrationForm(process, source, target), None
