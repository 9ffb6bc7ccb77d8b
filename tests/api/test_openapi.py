"""The OpenAPI document tells a generated client the truth about errors, headers and links."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_documents_its_errors_as_json_in_the_one_shape(
    schema: dict[str, Any],
) -> None:
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        expected = {"400", "413", "500"}
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == ERROR_JSON, (method, path, status)
                assert response["description"], (method, path, status)
        if path.startswith("/v1/jobs"):  # the database may be down or busy: 503, Retry-After
            assert "Retry-After" in responses["503"]["headers"], (method, path)
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_the_html_report_documents_html_success_and_json_errors(
    client: TestClient, schema: dict[str, Any]
) -> None:
    responses = schema["paths"]["/v1/jobs/{job_id}/report.html"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["text/html"]
    for status in ("404", "409", "422", "500"):
        assert responses[status]["content"] == ERROR_JSON
    response = client.get("/v1/jobs/no-such-job/report.html")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "not_found"


def test_creating_a_job_documents_its_location_header_and_links(
    client: TestClient, schema: dict[str, Any]
) -> None:
    created = schema["paths"]["/v1/jobs"]["post"]["responses"]["202"]
    assert created["headers"]["Location"]["required"] is True
    targets = set()
    for link in created["links"].values():
        assert link["parameters"] == {"job_id": "$response.body#/id"}
        pointer = unquote(link["operationRef"]).removeprefix("#/paths/")
        path, method = pointer.rsplit("/", 1)
        path = path.replace("~1", "/").replace("~0", "~")
        assert method in schema["paths"][path], link["operationRef"]
        targets.add((method.upper(), path))
    assert ("GET", "/v1/jobs/{job_id}") in targets
    assert ("POST", "/v1/jobs/{job_id}/cancel") in targets

    response = client.post("/v1/jobs", json={"dataset": "builtin:iris", "metric": "accuracy"})
    assert response.status_code == 202
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"


def test_request_bounds_are_in_the_schema(schema: dict[str, Any]) -> None:
    job = schema["components"]["schemas"]["JobSubmission"]["properties"]
    assert job["losses"]["anyOf"][0]["maxItems"] == 100
    assert job["dataset"]["maxLength"] == 4096
    assert job["dataset"]["pattern"] == "^[^\\x00-\\x1f\\x7f]*$"
    assert job["params"]["anyOf"][0]["maxProperties"] == 100
    offset = next(
        p for p in schema["paths"]["/v1/jobs"]["get"]["parameters"] if p["name"] == "offset"
    )
    assert offset["schema"]["maximum"] == 1_000_000_000


def test_a_body_that_is_not_text_is_a_400_in_the_one_shape(client: TestClient) -> None:
    response = client.post(
        "/v1/jobs", content=b'{"dataset": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "bad_request"
    assert "could not be read" in error["message"]
    assert "can't decode byte 0xff" in error["message"]


def _untyped(node: Any, schemas: dict[str, Any], seen: set[str], where: str) -> list[str]:
    """Places under ``node`` whose values a generated client could only see as "any object"."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _untyped(item, schemas, seen, where)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(schemas[name], schemas, seen, name)
    found = []
    if node.get("type") == "object" and "properties" not in node:
        values = node.get("additionalProperties")
        if values is None or values is True or values == {}:
            found.append(where)
    if node == {}:
        found.append(where)
    for key, value in node.items():
        if key in ("properties",):
            for name, child in value.items():
                found += _untyped(child, schemas, seen, f"{where}.{name}")
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            found += _untyped(value, schemas, seen, where)
    return found


@pytest.mark.parametrize("path", ["/v1/jobs/{job_id}/best", "/v1/jobs/{job_id}/report"])
def test_results_are_typed_all_the_way_down(schema: dict[str, Any], path: str) -> None:
    response = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    untyped = _untyped(response["schema"], schema["components"]["schemas"], set(), path)
    assert untyped == []
