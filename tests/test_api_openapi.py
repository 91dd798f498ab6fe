"""The OpenAPI document: served without a token, version 3.1, and in step with the routes."""

from __future__ import annotations

import re

import pytest

from engine import Engine
from tests.test_api_support import Api, staff_api


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


DOCUMENTED_BLUEPRINTS = {
    "auth",
    "api_tasks",
    "api_instances",
    "api_deployments",
    "api_incidents",
    "api_openapi",
    "admin_api",
    "public_intake",
    "public_tracking",
    "api_migrations",
    "stats_api",
}


def test_the_openapi_document_is_served_without_a_token(api: Api) -> None:
    answer = api.client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/api/auth/token"]["post"]["security"] == []


def test_every_route_of_the_staff_api_is_documented_with_its_methods(api: Api) -> None:
    paths = api.client.get("/api/openapi.json").get_json()["paths"]
    routes = set()
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in DOCUMENTED_BLUEPRINTS:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    documented = {(path, method) for path, item in paths.items() for method in item}
    assert routes == documented


def test_every_reference_in_the_document_resolves(api: Api) -> None:
    document = api.client.get("/api/openapi.json").get_json()
    text = str(document)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in document["components"]["schemas"]
