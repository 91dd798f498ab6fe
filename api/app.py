"""Flask application factory; one blueprint per module, nothing built at import time."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine import Engine, EngineError

from . import (
    admin_blueprints,
    api_deployments,
    api_incidents,
    api_instances,
    api_migrations,
    api_openapi,
    api_tasks,
    auth,
    public_intake,
    public_open311,
    public_tracking,
    public_web,
    stats_api,
    stats_web,
    web,
    web_tasks,
)
from .composition import build_engine
from .errors import engine_error_response
from .request_numbers import CONVERTERS
from .settings import Settings
from .storable import CheckedRequest, refuse_unstorable_text
from .users import Accounts


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = CheckedRequest
    app.url_map.converters.update(CONVERTERS)  # before any route is added
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions["complaints.settings"] = settings
    app.extensions["complaints.engine"] = engine = engine or build_engine(settings)
    # Accounts live in the engine's database (migration 0003) and tell time by its clock.
    app.extensions["complaints.accounts"] = Accounts(engine.sql, now=engine.clock.now)
    web.configure(app)  # session cookie, secret key fallback, languages of the staff pages
    app.before_request(refuse_unstorable_text)  # before any blueprint's own, sign-in included
    for blueprint in (
        auth.bp,
        api_tasks.bp,
        api_instances.bp,
        api_migrations.bp,
        api_deployments.bp,
        api_incidents.bp,
        api_openapi.bp,
        web.bp,
        web_tasks.bp,
        public_intake.bp,
        public_tracking.bp,
        public_open311.bp,
        public_web.bp,
        stats_api.bp,
        stats_web.bp,
    ):
        app.register_blueprint(blueprint)
    admin_blueprints.register(app)

    @app.get("/api/health")
    def health():
        return jsonify(status="ok")

    app.register_error_handler(EngineError, engine_error_response)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        body = {
            "error": (err.name or "error").lower().replace(" ", "_"),
            "message": err.description,
            "fields": getattr(err, "fields", {}),
        }
        return jsonify(body), err.code

    return app
