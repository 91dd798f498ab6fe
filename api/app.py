"""Flask application factory; one blueprint per module, nothing built at import time."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine import Engine, EngineError

from .composition import build_engine
from .errors import engine_error_response
from .settings import Settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions["complaints.settings"] = settings
    app.extensions["complaints.engine"] = engine or build_engine(settings)

    @app.get("/api/health")
    def health():
        return jsonify(status="ok")

    app.register_error_handler(EngineError, engine_error_response)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        body = {
            "error": (err.name or "error").lower().replace(" ", "_"),
            "message": err.description,
        }
        return jsonify(body), err.code

    return app
