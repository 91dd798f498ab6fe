"""Browser files of the admin pages: our own JS/CSS from `api/static/admin/`, and bpmn-js served
at runtime from `node_modules/` (installed by `npm ci` from package-lock.json; no third-party
file is kept in the repository). Without node_modules the library answers 503 saying so."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static" / "admin"
VIEWER = "bpmn-navigated-viewer.production.min.js"
STYLES = ("assets/diagram-js.css", "assets/bpmn-js.css", "assets/bpmn-font/css/bpmn.css")
MAX_AGE = 3600

bp = Blueprint(
    "admin_assets",
    __name__,
    static_folder=str(STATIC),
    static_url_path="/admin/static",
)


def node_modules() -> Path:
    """`COMPLAINTS_NODE_MODULES` (app config, then environment) or `node_modules/` at the root."""
    configured = current_app.config.get("COMPLAINTS_NODE_MODULES") or os.environ.get(
        "COMPLAINTS_NODE_MODULES"
    )
    return Path(configured) if configured else ROOT / "node_modules"


def bpmn_js_dist() -> Path:
    return node_modules() / "bpmn-js" / "dist"


def viewer_installed() -> bool:
    return (bpmn_js_dist() / VIEWER).is_file()


def missing_answer() -> Response:
    """Plain text an administrator opening the address reads, in the pages' language."""
    message = _(
        "The BPMN diagram viewer (bpmn-js) is not installed on this server.\n"
        "Run `npm ci` in %(folder)s (package.json and package-lock.json list it), then reload.\n",
        folder=ROOT,
    )
    return Response(message, status=503, mimetype="text/plain", headers={"Retry-After": "60"})


@bp.get("/admin/assets/bpmn-js/<path:name>")
def bpmn_js(name: str):
    """The viewer bundle and its style sheets and fonts; nothing else of node_modules."""
    if name != VIEWER and not name.startswith("assets/"):
        raise NotFound()
    if not viewer_installed():
        return missing_answer()
    return send_from_directory(bpmn_js_dist(), name, max_age=MAX_AGE)
