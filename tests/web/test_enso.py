"""Enso `POST /events/batch`: summary, per-record codes, registry checks, derived eventIds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import stored_rows


def put_customer(client: Any, customer_id: str, **fields: Any) -> None:
    response = client.put(f"/v1/customers/{customer_id}", json=fields)
    assert response.status_code in (200, 201), response.text


def record(customer: str = "ent_1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "CustomerEntityId": customer,
        "metric": "api_calls",
        "value": 3,
        "timestamp": "2023-11-07T05:31:56Z",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def send(client: Any, *records: Any) -> Any:
    return client.post("/events/batch", json={"events": list(records)})


def test_the_seed_request_shape_is_accepted(client: Any, data_dir: Path) -> None:
    put_customer(client, "ent_1")
    seed = record(metadata={}, eventId="e-1", JobId="job-A", jobId="job-b")
    response = send(client, seed)
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Success",
        "data": {"summary": {"success": 1, "failed": 0, "total": 1}, "failedRecords": []},
    }
    assert stored_rows(
        data_dir, "SELECT source, name, id, customer, value, payload FROM events"
    ) == [("enso", "api_calls", "e-1", "ent_1", 3.0, '{"metadata":{},"JobId":"job-A"}')]


def test_every_per_record_code(client: Any, data_dir: Path) -> None:
    put_customer(client, "ent_1")
    records = [
        record(eventId="ok"),  # 0 accepted
        record(customer=..., eventId="a"),  # 1 2001
        record(customer="ent_404", eventId="b"),  # 2 2002
        record(metric="", eventId="c"),  # 3 2004
        record(value="12", eventId="d"),  # 4 2005
        record(timestamp="N NaN:NaN:NaN.NaN", eventId="e"),  # 5 2006
        record(eventId="ok"),  # 6 2007 (in batch)
        record(metadata=[1], eventId="f"),  # 7 2008
    ]
    data = send(client, *records).json()["data"]
    assert data["summary"] == {"success": 1, "failed": 7, "total": 8}
    failed = data["failedRecords"]
    assert [(f["index"], f["code"], f["statusCode"]) for f in failed] == [
        (1, 2001, 400),
        (2, 2002, 404),
        (3, 2004, 400),
        (4, 2005, 400),
        (5, 2006, 400),
        (6, 2007, 409),
        (7, 2008, 400),
    ]
    assert failed[0]["error"] == "Customer entity ID required"
    assert failed[1]["error"] == "Customer entity not found"
    assert stored_rows(data_dir, "SELECT id FROM events") == [("ok",)]


def test_a_blind_retry_without_event_id_is_a_duplicate(client: Any, data_dir: Path) -> None:
    put_customer(client, "ent_1")
    first = send(client, record(), record(value=4)).json()["data"]["summary"]
    assert first["success"] == 2
    retry = send(client, record()).json()["data"]
    assert retry["summary"] == {"success": 0, "failed": 1, "total": 1}
    assert retry["failedRecords"][0]["code"] == 2007
    assert len(stored_rows(data_dir)) == 2


def test_request_level_errors(client: Any, data_dir: Path) -> None:
    for body in ({}, {"events": []}, {"events": "x"}):
        response = client.post("/events/batch", json=body)
        assert response.status_code == 400
        assert response.json() == {
            "status": "error",
            "message": "events array is required",
            "code": 2003,
        }
    client.headers.pop("Authorization")
    unauthorized = send(client, record())
    assert unauthorized.status_code == 401
    assert unauthorized.json()["code"] == 401 and unauthorized.json()["status"] == "error"


def test_customers_of_another_tenant_are_not_found(client: Any, data_dir: Path) -> None:
    from tests.conftest import mint_key

    put_customer(client, "ent_1")
    other = {"Authorization": f"Bearer {mint_key(data_dir, 'globex')}"}
    data = client.post("/events/batch", json={"events": [record()]}, headers=other).json()["data"]
    assert data["failedRecords"][0]["code"] == 2002
