"""Open311 GeoReport v2 at /open311/v2/ against the spec kept in shared/conformance/open311:
services and a service definition, POST with an API key, GET by id and as a filtered list, XML
and JSON, ids and codes as strings, errors as the spec writes them, and no identity anywhere."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine
from handlers.models import Complaint
from tests.conftest import shared_dir
from tests.lifecycle import REGION, lifecycle_engine
from tests.test_public_support import EMAIL, NAME, OPEN311_KEY, PHONE, Site, body, identity_free

CODES = ["air", "water", "noise", "soil", "solid_waste", "radiation", "ecology", "other"]


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def site(engine: Engine, sqlite_url: str) -> Site:
    return Site(engine, sqlite_url)


def spec_definition(name: str) -> tuple[list[str], list[str]]:
    """(required, properties) of a definition in data_georeport_v2-1.yaml, read without a YAML
    library: the file's layout is regular (two-space indents)."""
    base = shared_dir()
    if base is None:
        pytest.skip("shared/conformance is not beside the checkout")
    text = (Path(base) / "conformance" / "open311" / "data_georeport_v2-1.yaml").read_text()
    block = re.search(rf"\n  {name}:\n(.*?)(?=\n  \w+:\n|\nparameters:)", text, re.S).group(1)
    required = re.search(r"    required:\n((?:      - \w+\n)+)", block + "\n")
    properties = re.findall(r"\n      (\w+):\n", block)
    found = re.findall(r"- (\w+)", required.group(1)) if required else []
    return found, properties


def form(**values: str) -> dict[str, str]:
    data = {
        "api_key": OPEN311_KEY,
        "jurisdiction_id": "hubei.gov.cn",
        "service_code": "noise",
        "lat": "30.5928",
        "long": "114.3055",
        "address_string": "武昌区中北路1号",
        "description": "工地夜间22点后仍在打桩施工",
        "attribute[region_code]": "420106",
        "attribute[respondent]": "某建筑公司",
        "first_name": "三丰",
        "last_name": "张",
        "phone": PHONE,
        "email": EMAIL,
        "device_id": "tt222111",
        "media_url": "http://example.org/photo.jpg",
    }
    data.update(values)
    return data


def post(site: Site, fmt: str = "json", **values: str):
    return site.client.post(f"/open311/v2/requests.{fmt}", data=form(**values))


def xml(answer) -> ET.Element:
    text = answer.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(answer.get_data())


# ------------------------------------------------------------ services


def test_the_categories_are_the_services_in_json_and_xml(site: Site) -> None:
    required, properties = spec_definition("Service")
    answer = site.client.get("/open311/v2/services.json?jurisdiction_id=hubei.gov.cn")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    services = answer.get_json()
    assert [s["service_code"] for s in services] == CODES
    for service in services:
        assert set(required) <= set(service) <= set(properties)
        assert isinstance(service["service_code"], str)
        assert service["type"] == "realtime" and service["metadata"] is True
    names = {s["service_code"]: s["service_name"] for s in services}
    assert names["air"] == "大气污染 Air pollution"
    assert names["solid_waste"] == "固体废物 Solid waste"

    root = xml(site.client.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == CODES
    assert root.find("service/metadata").text == "true"


def test_a_service_definition_asks_for_the_region(site: Site) -> None:
    required, _ = spec_definition("ServiceDefinition")
    definition = site.client.get("/open311/v2/services/water.json").get_json()
    assert set(required) <= set(definition)
    [region, respondent, title] = definition["attributes"]
    assert (region["code"], region["required"], region["datatype"]) == (
        "region_code",
        True,
        "singlevaluelist",
    )
    assert {"key": REGION, "name": "湖北省武汉市江岸区"} in region["values"]
    assert respondent["required"] is False and title["required"] is False
    root = xml(site.client.get("/open311/v2/services/water.xml"))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key").text == "420000"
    missing = site.client.get("/open311/v2/services/smell.json")
    assert missing.status_code == 404
    assert missing.get_json()[0]["code"] == "404"


# ------------------------------------------------------------ creating requests


def test_a_request_needs_a_valid_api_key(site: Site) -> None:
    for key in ("", "wrong-key", OPEN311_KEY + "x"):
        answer = post(site, "xml", api_key=key)
        assert answer.status_code == 403
        root = xml(answer)
        assert root.tag == "errors"
        assert root.findtext("error/code") == "403"
        assert "api_key" in root.findtext("error/description")
    assert site.count(Complaint) == 0


def test_a_request_without_a_service_code_location_region_or_text_is_refused(
    site: Site,
) -> None:
    assert post(site, service_code="").status_code == 400
    unknown = post(site, service_code="graffiti")
    assert unknown.status_code == 404 and "graffiti" in unknown.get_json()[0]["description"]
    nowhere = post(site, lat="", long="", address_string="", address_id="545483")
    assert nowhere.status_code == 400
    assert "location" in nowhere.get_json()[0]["description"]
    several = post(site, **{"attribute[region_code]": "", "description": ""})
    assert several.status_code == 400
    described = sorted(e["description"] for e in several.get_json())
    assert described == ["attribute[region_code]: required", "description: required"]
    assert all(e["code"] == "400" for e in several.get_json())
    for odd in ("north", "1_0", "nan", "infinity"):  # all but the first are floats to Python
        assert post(site, lat=odd).status_code == 400, odd
    assert post(site, description="污" * 4001).status_code == 400
    huge = post(site, description="x" * (70 * 1024))
    assert huge.status_code == 413 and huge.get_json()[0]["code"] == "413"
    assert site.count(Complaint) == 0


def test_a_request_round_trip_meets_the_spec(site: Site) -> None:
    required, properties = spec_definition("Request")
    _, response_properties = spec_definition("RequestResponse")
    answer = post(site)
    assert answer.status_code == 200
    [created] = answer.get_json()
    assert set(created) <= set(response_properties)
    number = created["service_request_id"]
    assert isinstance(number, str) and re.fullmatch(r"HB-2026-\d{6}", number)
    assert "token" not in created  # realtime: the id is returned, so the spec forbids a token
    assert number in created["service_notice"] and "/track" in created["service_notice"]

    # The complaint is registered with the identity apart and the process running.
    complaint = site.complaint(number)
    assert (complaint.channel, complaint.category, complaint.region_code) == (
        "platform",
        "noise",
        "420106",
    )
    assert complaint.respondent == "某建筑公司"
    identity = site.identity(number)
    assert (identity.name, identity.phone, identity.email) == (NAME, PHONE, EMAIL)
    assert site.engine.instances(process_id="complaint", business_key=number)

    # The access code in the notice opens the complainant's view.
    code = re.search(r"查询码([\w-]+)。", created["service_notice"]).group(1)
    assert site.view(number, code).status_code == 200

    [one] = site.client.get(f"/open311/v2/requests/{number}.json").get_json()
    listed = site.client.get("/open311/v2/requests.json").get_json()
    assert [r["service_request_id"] for r in listed] == [number]
    for request in (one, listed[0]):
        assert set(required) <= set(request) <= set(properties)
        assert request["status"] == "open"
        assert request["service_code"] == "noise" and request["service_name"] == "噪声污染 Noise"
        assert request["requested_datetime"] == "2026-03-02T09:00:00+08:00"
        assert request["updated_datetime"] == "2026-03-02T09:00:00+08:00"
        assert request["expected_datetime"] is None
        assert (request["lat"], request["long"]) == (30.5928, 114.3055)
        assert request["address"] == "武昌区中北路1号"
        assert "已登记" in request["status_notes"]

    root = xml(site.client.get(f"/open311/v2/requests/{number}.xml"))
    assert root.tag == "service_requests"
    [item] = root.findall("request")
    assert item.findtext("service_request_id") == number
    assert item.findtext("expected_datetime") == ""
    assert item.findtext("long") == "114.3055"
    assert set(required) <= {child.tag for child in item}


def test_a_request_may_come_without_a_name_and_is_then_anonymous(site: Site) -> None:
    answer = post(site, first_name="", last_name="", phone="", email="")
    number = answer.get_json()[0]["service_request_id"]
    assert site.identity(number).anonymous is True
    answer = post(site, first_name="John", last_name="Smith", phone="", description="smoke")
    number = answer.get_json()[0]["service_request_id"]
    assert site.identity(number).name == "John Smith"


def test_a_repeated_request_with_the_same_idempotency_key_registers_once(site: Site) -> None:
    headers = {"Idempotency-Key": "open311-retry-1"}
    first = site.client.post("/open311/v2/requests.json", data=form(), headers=headers)
    second = site.client.post("/open311/v2/requests.json", data=form(), headers=headers)
    ids = {first.get_json()[0]["service_request_id"], second.get_json()[0]["service_request_id"]}
    assert len(ids) == 1 and site.count(Complaint) == 1


# ------------------------------------------------------------ querying requests


def test_the_list_filters_by_status_code_dates_and_ids(site: Site, clock) -> None:
    old, _ = site.submit(body(category="air"))
    clock.advance(days=100)
    noise = post(site).get_json()[0]["service_request_id"]
    water, _ = site.submit(body(category="water", description="另一条河"))
    site.triage(water, "penalty_dispute")  # diverted: closed for Open311

    def ids(query: str = "") -> list[str]:
        answer = site.client.get(f"/open311/v2/requests.json{query}")
        assert answer.status_code == 200, answer.get_json()
        return [r["service_request_id"] for r in answer.get_json()]

    assert ids() == [water, noise]  # the last 90 days, newest first
    assert ids("?status=open") == [noise]
    assert ids("?status=closed") == [water]
    assert ids("?status=open,closed&service_code=noise,air") == [noise]
    assert ids("?start_date=2026-02-01T00:00:00Z&end_date=2026-04-01T00:00:00%2B08:00") == [old]
    assert ids("?start_date=2026-03-01T00:00:00Z") == [old]  # 90 days from the start
    assert ids(f"?service_request_id={old},{noise},HB-2026-999999&status=closed") == [noise, old]
    closed = site.client.get(f"/open311/v2/requests/{water}.json").get_json()[0]
    assert closed["status"] == "closed"
    assert closed["updated_datetime"] >= closed["requested_datetime"]

    too_long = site.client.get(
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
    )
    assert too_long.status_code == 400 and "90 days" in too_long.get_json()[0]["description"]
    for query in ("?start_date=yesterday", "?start_date=2026-01-01T00:00:00", "?status=pending"):
        assert site.client.get(f"/open311/v2/requests.json{query}").status_code == 400


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("end_date=0001-01-01T00:00:00Z", "end_date"),
        ("start_date=9999-12-31T00:00:00Z", "start_date"),
        ("start_date=0001-01-01T00:00:00%2B01:00", "start_date"),
        ("start_date=2026-01-01T00:00:00Z&end_date=9999-01-01T00:00:00Z", "end_date"),
    ],
)
def test_a_date_outside_the_calendar_is_an_open311_error(site: Site, query: str, name: str) -> None:
    expected = f"{name} must lie between 1900-01-01 and 9998-12-31"
    answer = site.client.get(f"/open311/v2/requests.json?{query}")
    assert answer.status_code == 400
    assert answer.get_json() == [{"code": "400", "description": expected}]
    answer = site.client.get(f"/open311/v2/requests.xml?{query}")
    assert answer.status_code == 400
    assert xml(answer).findtext("error/description") == expected


def test_the_calendar_edges_are_answered(site: Site) -> None:
    for query in ("start_date=9998-12-31T23:00:00-05:00", "end_date=1900-01-01T00:00:00%2B14:00"):
        answer = site.client.get(f"/open311/v2/requests.json?{query}")
        assert answer.status_code == 200 and answer.get_json() == [], query


def test_an_unknown_request_or_format_is_an_open311_error(site: Site) -> None:
    missing = site.client.get("/open311/v2/requests/HB-2026-424242.xml")
    assert missing.status_code == 404
    assert xml(missing).findtext("error/code") == "404"
    wrong_format = site.client.get("/open311/v2/services.csv")
    assert wrong_format.status_code == 400
    assert xml(wrong_format).findtext("error/description").startswith("format")


def test_no_identity_text_or_respondent_shows_in_open311_answers(site: Site) -> None:
    number = post(site).get_json()[0]["service_request_id"]
    site.submit()
    for path in (
        f"/open311/v2/requests/{number}.json",
        f"/open311/v2/requests/{number}.xml",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
    ):
        text = site.client.get(path).get_data(as_text=True)
        assert identity_free(text), path
        assert "打桩" not in text and "排放黑色污水" not in text  # descriptions stay inside
        assert "某建筑公司" not in text and "化工" not in text  # so do the respondents
        for field in ("email", "phone", "first_name", "last_name", "name", "description"):
            assert f'"{field}"' not in text and f"<{field}>" not in text


def test_open311_reads_count_against_the_rate_limit_and_keyed_posts_do_not(
    engine: Engine, sqlite_url: str, clock
) -> None:
    site = Site(engine, sqlite_url, COMPLAINTS_PUBLIC_RATE_LIMIT="2/minute")
    assert site.client.get("/open311/v2/services.json").status_code == 200
    assert site.client.get("/open311/v2/services.json").status_code == 200
    limited = site.client.get("/open311/v2/services.json")
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.get_json()[0]["code"] == "429"
    assert post(site).status_code == 200
    clock.advance(minutes=1)
    assert site.client.get("/open311/v2/services.json").status_code == 200
