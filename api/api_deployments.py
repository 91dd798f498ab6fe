"""Deployments under `/api/deployments`: list and file download for any staff; upload of a new
bundle (several files or one zip) for designers and admins, refused with every problem listed."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import PurePosixPath

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from engine import NotFound

from .auth import authenticate, current_actor, require_any_group
from .json_api import ApiError, deployment_json, register_error_handlers, the_engine

bp = Blueprint("api_deployments", __name__, url_prefix="/api/deployments")
register_error_handlers(bp)
bp.before_request(authenticate)

MAX_UPLOAD = 20 * 1024 * 1024  # a bundle is diagrams and forms: megabytes at most
MAX_FILES = 500
MEDIA_TYPES = {".bpmn": "application/xml", ".dmn": "application/xml", ".json": "application/json"}


@bp.get("")
def list_deployments():
    found = the_engine().deployments()
    return jsonify(items=[deployment_json(d) for d in found], count=len(found))


@bp.get("/<version:version>/files/<path:name>")
def download(version: int, name: str):
    files = the_engine().deployment_files(version)
    if name not in files:
        raise NotFound(f"deployment version {version} has no file '{name}'")
    media = MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    filename = secure_filename(PurePosixPath(name).name) or "file"
    return Response(
        files[name],
        mimetype=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.post("")
def deploy():
    """multipart/form-data: any number of parts named `files` (or any name): .bpmn, .dmn and
    form .json files, or .zip archives of them (folders inside are flattened)."""
    require_any_group("designer")
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise ApiError(413, "too_large", f"a bundle may be at most {MAX_UPLOAD // 2**20} MiB")
    request.max_content_length = MAX_UPLOAD  # also bounds chunked bodies without a length
    uploads = request.files.getlist("files") or [
        f for key in request.files for f in request.files.getlist(key)
    ]
    if not uploads:
        raise ApiError(
            422,
            "invalid_data",
            "upload the bundle as multipart/form-data parts named 'files'",
            {"files": ["required"]},
        )
    files, problems = read_uploads(uploads, nameless="a part has no file name")
    if problems:
        raise ApiError(422, "invalid_upload", _summary(problems), problems)
    info = the_engine().deploy(files, current_actor())
    body = deployment_json(info)
    body["created"] = info.created
    return jsonify(body), 201 if info.created else 200


def read_uploads(
    uploads: Iterable[FileStorage], *, nameless: str | None
) -> tuple[dict[str, bytes], dict[str, list[str]]]:
    """The bundle in uploaded parts: folders flattened, .zip archives unpacked within limits,
    two files of one name refused. The problems are by file name; a part without a name is
    the problem `nameless` under "files", or skipped when None (an empty file input of a web
    form sends one)."""
    files: dict[str, bytes] = {}
    problems: dict[str, list[str]] = {}
    for upload in uploads:
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        content = upload.read()
        if not name:
            if nameless is not None:
                problems.setdefault("files", []).append(nameless)
        elif name.lower().endswith(".zip"):
            _unzip(name, content, files, problems)
        else:
            _add(name, content, files, problems)
    return files, problems


def _unzip(
    archive: str, content: bytes, files: dict[str, bytes], problems: dict[str, list[str]]
) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            if len(members) > MAX_FILES:
                problems.setdefault(archive, []).append(f"more than {MAX_FILES} files")
                return
            # Declared sizes bound what we inflate: a zip bomb stops here, not in memory.
            if sum(m.file_size for m in members) > MAX_UPLOAD:
                problems.setdefault(archive, []).append("unpacks to more than the upload limit")
                return
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/")).name
                if not name or name.startswith(".") or "__MACOSX" in member.filename:
                    continue
                _add(name, bundle.read(member), files, problems)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError) as err:
        problems.setdefault(archive, []).append(f"not a readable zip archive: {err}")


def _add(
    name: str, content: bytes, files: dict[str, bytes], problems: dict[str, list[str]]
) -> None:
    if name in files:
        problems.setdefault(name, []).append("the bundle holds two files of this name")
        return
    files[name] = content


def _summary(problems: dict[str, list[str]]) -> str:
    return "; ".join(f"{name}: {msg}" for name, msgs in problems.items() for msg in msgs)
