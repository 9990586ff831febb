"""`/docs/openapi.json` is a valid OpenAPI document, and a client generated from it with
openapi-python-client talks to a real server."""

from __future__ import annotations

import datetime
import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    data_dir.mkdir()
    proc = ServerProcess(data_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(f"{server.http_url}/docs/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_the_document_is_valid_and_says_what_each_route_answers(document: dict[str, Any]) -> None:
    validate(document)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ingest = {
        "/events": "SluiceError",
        "/events/batch": "EnsoError",
        "/collect/event": "CollectError",
        "/v1/event": "ProfilesError",
    }
    for path, error in ingest.items():
        post = document["paths"][path]["post"]
        assert post["security"] == [{"bearer": []}]
        assert "$ref" in json.dumps(post["requestBody"]), path
        for status in ("400", "401", "413", "415", "429", "503"):
            content = post["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": f"#/components/schemas/{error}"}, (path, status)
    ok = document["paths"]["/events"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/VayuIngestResult"}
    put = document["paths"]["/v1/customers/{customer_id}"]["put"]["responses"]
    assert {"200", "201"} <= put.keys()
    query = {p["name"] for p in document["paths"]["/events"]["get"]["parameters"]}
    assert {"startTime", "endTime", "eventName", "customerAlias", "limit", "cursor"} <= query


@pytest.fixture(scope="module")
def client_package(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The client openapi-python-client generates from the served document."""
    work = tmp_path_factory.mktemp("client")
    spec = work / "openapi.json"
    spec.write_text(json.dumps(document))
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator is not None, "openapi-python-client is in the dev extra"
    subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(work / "out"),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(work))
    (work / "out").rename(work / "sluice_generated")
    try:
        yield importlib.import_module("sluice_generated")
    finally:
        sys.path.remove(str(work))


class api:
    """`api("vayu").vayu_ingest_events`: the generated module of one operation."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __getattr__(self, operation: str) -> Any:
        return importlib.import_module(f"sluice_generated.api.{self.tag}.{operation}")


def test_a_generated_client_round_trips_the_routes(
    client_package: Any, server: ServerProcess
) -> None:
    models = importlib.import_module("sluice_generated.models")
    client = client_package.AuthenticatedClient(
        base_url=server.http_url, token=server.bootstrap_key
    )
    customers = api("customers")
    put = customers.put_customer.sync_detailed(
        "ent_1", client=client, body=models.CustomerRequest(aliases=["cust_1"])
    )
    assert put.status_code == 201 and put.parsed.id == "ent_1"
    got = customers.get_customer.sync("ent_1", client=client)
    assert got.aliases == ["cust_1"]
    listed = customers.list_customers.sync(client=client)
    assert [c.id for c in listed.customers] == ["ent_1"]

    vayu = api("vayu")
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    event = models.VayuEvent(name="api_call", timestamp=when, customer_alias="cust_1", ref="r-1")
    ingested = vayu.vayu_ingest_events.sync(
        client=client, body=models.VayuIngestRequest(events=[event])
    )
    assert [e.ref for e in ingested.valid_events] == ["r-1"] and ingested.invalid_events == []
    page = vayu.vayu_query_events.sync(client=client, event_name="api_call", limit="10")
    assert [e.ref for e in page.events] == ["r-1"] and page.has_more is False

    enso = api("enso").enso_ingest_batch.sync(
        client=client,
        body=models.EnsoBatchRequest(
            events=[
                models.EnsoRecord(
                    customer_entity_id="ent_1",
                    metric="m",
                    value=3.0,
                    timestamp=when,
                    event_id="e-1",
                )
            ]
        ),
    )
    assert enso.data.summary.success == 1
    collected = api("collect").collect_events.sync_detailed(
        client=client,
        body=models.CollectRequest(
            message_body=[models.CollectEvent(event_type="page_view", event_id="p1")]
        ),
    )
    assert collected.status_code == 201 and "pingId" in collected.parsed.value
    profile = api("profiles").profiles_create_event.sync(
        client=client,
        body=models.ProfilesRequest(
            user=models.ProfilesUser(field_id="ent_1"),
            event=models.ProfilesRequestEvent.from_dict({"update": {"plan": "pro"}}),
        ),
    )
    assert profile.results["message"] == "Event created"

    unauthorised = client_package.AuthenticatedClient(base_url=server.http_url, token="nope")
    refused = vayu.vayu_ingest_events.sync_detailed(
        client=unauthorised, body=models.VayuIngestRequest(events=[event])
    )
    assert refused.status_code == 401 and refused.parsed.code == "authentication_failed"

    deleted = customers.delete_customer.sync_detailed("ent_1", client=client)
    assert deleted.status_code == 204
