"""Vayu's customer fields and usage query, in process: the rules a client meets first.

tests/vayu_sdk/ drives the same routes through Vayu's SDK against a server process; these run
inside `make mutation-py`'s test selection (docs/mutation.md), which server processes are not.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_vayu import event
from tests.web.test_vayu_events import ingest

USAGE = {
    "customerId": "c1",
    "period": {"startTime": "2026-05-01T00:00:00Z", "endTime": "2026-05-03T00:00:00Z"},
    "groupBy": "day",
    "meters": [{"key": "calls", "eventName": "api_call"}],
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "x", "currency": "XXX"}, "currency"),
        ({"name": "x", "taxIds": ["ok", 7]}, "taxIds"),
        ({"name": "x", "address": "1 Main St"}, "address"),
    ],
)
def test_a_customer_field_of_the_wrong_type_or_value_is_400_naming_it(
    client: Any, body: dict[str, Any], field: str
) -> None:
    refused = client.post("/customers", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["param"] == field
    assert refused.json()["message"] == f"{field} has the wrong type or value."
    assert client.get("/customers").json()["customers"] == []


def test_a_customer_field_set_to_null_is_left_unset(client: Any) -> None:
    created = client.post("/customers", json={"name": "x", "currency": None, "taxIds": None})
    assert created.status_code == 200, created.text
    customer = created.json()["customer"]
    assert customer["name"] == "x"
    assert "currency" not in customer and "taxIds" not in customer


def test_a_customer_keeps_its_vayu_fields_and_a_change_merges_into_them(client: Any) -> None:
    created = client.post(
        "/customers", json={"name": "x", "currency": "USD", "externalId": "erp-1"}
    ).json()["customer"]
    assert (created["currency"], created["externalId"]) == ("USD", "erp-1")
    read = client.get(f"/customers/{created['id']}").json()["customer"]
    assert (read["currency"], read["externalId"]) == ("USD", "erp-1")
    changed = client.put(
        f"/customers/{created['id']}", json={"currency": None, "dueDays": "SAME_DAY"}
    )
    assert changed.status_code == 200, changed.text
    customer = changed.json()["customer"]
    assert "currency" not in customer
    assert (customer["dueDays"], customer["externalId"]) == ("SAME_DAY", "erp-1")


def test_usage_answers_one_data_point_per_group_of_the_customer_s_events(client: Any) -> None:
    ingest(
        client,
        event("a1", customerAlias="c1", timestamp="2026-05-01T10:00:00Z"),
        event("a2", customerAlias="c1", timestamp="2026-05-01T11:00:00Z"),
        event("a3", customerAlias="c1", timestamp="2026-05-02T11:00:00Z"),
        event("a4", customerAlias="c2", timestamp="2026-05-02T11:00:00Z"),
    )
    answer = client.post("/v2/events/aggregation", json=USAGE)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "dataPoints": [
            {"group": "2026-05-01T00:00:00.000Z", "values": {"calls": 2}},
            {"group": "2026-05-02T00:00:00.000Z", "values": {"calls": 1}},
        ],
        "period": {"startTime": "2026-05-01T00:00:00.000Z", "endTime": "2026-05-03T00:00:00.000Z"},
        "groupBy": "day",
    }


@pytest.mark.parametrize("period", [None, "2026-05", ["2026-05-01T00:00:00Z"]])
def test_a_usage_period_that_is_not_an_object_is_400_naming_it(client: Any, period: Any) -> None:
    refused = client.post("/v2/events/aggregation", json={**USAGE, "period": period})
    assert refused.status_code == 400, refused.text
    assert refused.json()["param"] == "period"
    assert refused.json()["message"] == "period must be an object {startTime, endTime}."
