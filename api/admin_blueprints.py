"""The administrators' part of the app in one call for the composition root:
`admin_blueprints.register(app)` in `create_app` adds the admin JSON API, pages and assets."""

from __future__ import annotations

from flask import Flask

from . import admin_api, admin_assets, admin_web

BLUEPRINTS = (admin_api.bp, admin_web.bp, admin_assets.bp)
OPENAPI_PATHS = admin_api.OPENAPI_PATHS  # merge into api_openapi.PATHS where it is owned


def register(app: Flask) -> None:
    """Idempotent, so tests may call it on an app whose factory already did."""
    admin_web.configure(app)
    for blueprint in BLUEPRINTS:
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
