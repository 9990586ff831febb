"""`/docs/openapi.json` is a valid OpenAPI document, and a client generated from it with
openapi-python-client talks to a real server."""

from __future__ import annotations

import datetime
import importlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.conftest import ServerProcess
from tests.docs.roundtrip import Operations, answered

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


# Routes that take no key: the probes, and Vayu's login, which takes the key in its body.
PUBLIC = {"healthz", "readyz", "vayuLogin", "vayuLoginV2"}
PROBES = {"healthz", "readyz"}
# The error object of each dialect by path; every other route answers in Sluice's (Vayu's).
ERROR_SHAPES = {
    "/events/batch": "EnsoError",
    "/collect/event": "CollectError",
    "/v1/event": "ProfilesError",
}
SCHEMAS = "#/components/schemas/"


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield path, method, operation


def examples_of(media: dict[str, Any]) -> list[Any]:
    """A media type's examples: a request body's sit in its schema, a response's beside it."""
    if "examples" in media:
        return [example["value"] for example in media["examples"].values()]
    return list(media["schema"].get("examples", []))


def test_every_operation_is_typed_keyed_and_answers_errors_in_its_dialect(
    document: dict[str, Any],
) -> None:
    components = document["components"]

    def check_examples(media: dict[str, Any], where: str) -> None:
        """The media type has examples, each valid against its schema."""
        schema = media["schema"]
        ref = schema["allOf"][0]["$ref"] if "allOf" in schema else schema["$ref"]
        assert ref.startswith(SCHEMAS) and ref[len(SCHEMAS) :] in components["schemas"], where
        examples = examples_of(media)
        assert examples, where
        validator = OAS31Validator({"$ref": ref, "components": components})
        for example in examples:
            validator.validate(example)

    for path, method, operation in operations(document):
        name = operation["operationId"]
        where = f"{method.upper()} {path} ({name})"
        if name in PUBLIC:
            assert not operation.get("security"), where
        else:
            assert operation.get("security") == [{"bearer": []}], where
        if method in ("post", "put"):
            check_examples(operation["requestBody"]["content"]["application/json"], where)
        else:
            assert "requestBody" not in operation, where
        answers = operation["responses"]
        successes = {status: answer for status, answer in answers.items() if status < "300"}
        assert successes, where
        for status, answer in successes.items():
            if status == "204":
                assert "content" not in answer, where
            elif name == "streamEvents":
                assert answer["content"] == {"text/event-stream": {"schema": {"type": "string"}}}
            else:
                check_examples(answer["content"]["application/json"], f"{where} {status}")
        errors = {status: answer for status, answer in answers.items() if status >= "400"}
        if name in PROBES:
            assert errors.keys() <= {"503"}, where
            continue
        expected = {"400", "401", "503"} | ({"429"} if name not in PUBLIC else set())
        if method in ("post", "put"):
            expected |= {"413", "415"}
        if "{" in path and name != "putCustomer":  # a PUT of Sluice's registry creates
            expected.add("404")
        assert expected <= errors.keys(), (where, expected - errors.keys())
        shape = SCHEMAS + ERROR_SHAPES.get(path, "SluiceError")
        for status, answer in errors.items():
            media = answer["content"]["application/json"]
            assert media["schema"] == {"$ref": shape}, (where, status)
            check_examples(media, f"{where} {status}")
        # A list (an answer with a next cursor) declares how to page through it.
        ok_schema = successes.get("200", {}).get("content", {}).get("application/json", {})
        listed = ok_schema.get("schema", {}).get("$ref", "")[len(SCHEMAS) :]
        if "nextCursor" in components["schemas"].get(listed, {}).get("properties", {}):
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert {"limit", "cursor"} <= query, where


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


def _sluice(*args: str, data_dir: Path) -> str:
    """`sluice <args> --data-dir <data_dir>`'s output (the store is shared with the server)."""
    command = [sys.executable, "-m", "sluice", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _server_sent(text: str) -> list[dict[str, str]]:
    """The messages of a text/event-stream body, each as {field: value}; comments left out."""
    messages = []
    # SSE allows CRLF, LF or CR line ends; Litestar writes CRLF.
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in block.splitlines()
            if line and not line.startswith(":")
        )
        if fields:
            messages.append(fields)
    return messages


@pytest.fixture
def operations_hit(document: dict[str, Any]) -> Operations:
    return Operations(document)


def test_a_generated_client_round_trips_every_operation(
    client_package: Any, server: ServerProcess, operations_hit: Operations
) -> None:
    """Every operation of the document, called through the generated client against a real
    server: each answer parses into the documented model with nothing left over and equal to
    what was sent, and the operations called are all the document's."""
    models = importlib.import_module("sluice_generated.models")
    hooks = {"event_hooks": {"request": [operations_hit.record]}}

    def keyed(token: str | None) -> Any:
        # 30 s: the event stream below stays open until its key is revoked (up to ~6 s).
        return client_package.AuthenticatedClient(
            base_url=server.http_url, token=token, timeout=httpx.Timeout(30), httpx_args=hooks
        )

    client = keyed(server.bootstrap_key)
    anonymous = client_package.Client(base_url=server.http_url, httpx_args=hooks)
    default, vayu, customers = api("default"), api("vayu"), api("customers")

    assert answered(default.healthz.sync_detailed(client=anonymous)).status == "ok"
    assert answered(default.readyz.sync_detailed(client=anonymous)).status == "ready"
    login = models.LoginRequest(refresh_token=server.bootstrap_key)
    token = answered(vayu.vayu_login.sync_detailed(client=anonymous, body=login)).access_token
    answered(vayu.vayu_login_v2.sync_detailed(client=anonymous, body=login))

    # Sluice's registry: the customer every ingest dialect below resolves to.
    put = customers.put_customer.sync_detailed(
        "ent_1", client=client, body=models.CustomerRequest(aliases=["cust_1"])
    )
    assert answered(put, 201).id == "ent_1"
    assert answered(customers.get_customer.sync_detailed("ent_1", client=client)).aliases == [
        "cust_1"
    ]
    listed = answered(customers.list_customers.sync_detailed(client=client, limit=10))
    assert [c.id for c in listed.customers] == ["ent_1"] and listed.has_more is False

    # Vayu's events: ingest, read, dry run; an access token from /login works as the key.
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)

    def event(ref: str) -> Any:
        return models.VayuEvent(name="api_call", timestamp=when, customer_alias="cust_1", ref=ref)

    batch = models.VayuIngestRequest(events=[event(f"r-{i}") for i in range(1, 5)])
    ingested = answered(vayu.vayu_ingest_events.sync_detailed(client=client, body=batch))
    assert [e.ref for e in ingested.valid_events] == ["r-1", "r-2", "r-3", "r-4"]
    assert ingested.invalid_events == []
    v2 = models.VayuIngestRequest(events=[event("r-5")])
    assert answered(vayu.vayu_ingest_events_v2.sync_detailed(client=client, body=v2)).valid_events
    page = answered(
        vayu.vayu_query_events.sync_detailed(client=client, event_name="api_call", limit="3")
    )
    assert [e.ref for e in page.events] == ["r-1", "r-2", "r-3"] and page.has_more is True
    rest = answered(
        vayu.vayu_query_events_v2.sync_detailed(client=keyed(token), cursor=page.next_cursor)
    )
    assert [e.ref for e in rest.events] == ["r-4", "r-5"] and rest.next_cursor is None
    got = answered(vayu.vayu_get_event.sync_detailed("r-1", client=client))
    assert got.event.ref == "r-1" and got.event.customer_alias == "cust_1"
    assert answered(vayu.vayu_get_event_v2.sync_detailed("r-2", client=client)).event.ref == "r-2"

    # Meters and measurements, which the dry run and the usage query read.
    meter_fields = models.MeterFields(
        name="calls",
        event_name="api_call",
        aggregation_method=models.AggregationMethod(operator="Count"),
    )
    meter = answered(vayu.vayu_create_meter.sync_detailed(client=client, body=meter_fields)).meter
    assert answered(vayu.vayu_get_meter.sync_detailed(meter.id, client=client)).meter == meter
    changes = models.MeterChanges(name="api calls")
    changed = answered(vayu.vayu_update_meter.sync_detailed(meter.id, client=client, body=changes))
    assert changed.meter.name == "api calls"
    meters = answered(vayu.vayu_list_meters.sync_detailed(client=client, limit="10"))
    assert [m.id for m in meters.meters] == [meter.id] and meters.total == 1

    dry = models.VayuIngestRequest(events=[event("r-9")])
    for dry_run in (vayu.vayu_dry_run_events, vayu.vayu_dry_run_events_v2):
        (item,) = answered(dry_run.sync_detailed(client=client, body=dry)).events
        assert item.matched_customer == "ent_1" and item.event.ref == "r-9"
        assert [(m.name, m.value) for m in item.meter_with_values] == [("api calls", 1.0)]

    usage_request = models.UsageRequest(
        customer_id="ent_1",
        period=models.Period(start_time=when, end_time=when + datetime.timedelta(days=1)),
        meters=[models.InlineMeter(key="calls", event_name="api_call")],
        group_by="day",
    )
    usage = answered(
        vayu.vayu_query_events_aggregation.sync_detailed(client=client, body=usage_request)
    )
    assert [(p.group, p.values.to_dict()) for p in usage.data_points] == [
        ("2024-05-01T00:00:00.000Z", {"calls": 5.0})
    ]

    # Vayu's customers, and the conflict of a second one claiming the same alias.
    new = models.NewVayuCustomer(name="Acme", aliases=["acme-1"], external_id="crm-1")
    created = answered(vayu.vayu_create_customer.sync_detailed(client=client, body=new)).customer
    conflict = answered(vayu.vayu_create_customer.sync_detailed(client=client, body=new), 409)
    assert conflict.code == "resource_already_exists" and conflict.param == "aliases"
    for lookup in (
        vayu.vayu_get_customer.sync_detailed(created.id, client=client),
        vayu.vayu_get_customer_by_external_id.sync_detailed("crm-1", client=client),
        vayu.vayu_get_customer_by_name.sync_detailed("Acme", client=client),
    ):
        assert answered(lookup).customer == created
    update = models.VayuCustomerFields(currency="EUR")
    updated = vayu.vayu_update_customer.sync_detailed(created.id, client=client, body=update)
    assert answered(updated).customer.currency == "EUR"
    vayu_customers = answered(vayu.vayu_list_customers.sync_detailed(client=client, limit="1"))
    assert vayu_customers.total == 2 and vayu_customers.has_more is True

    measurement_fields = models.MeasurementRequest(
        customer_id=created.id,
        meter_id=meter.id,
        usage_date=models.UsageDate(year=2024, month=5, day=1),
        value=2.5,
    )
    measurement = answered(
        vayu.vayu_create_measurement.sync_detailed(client=client, body=measurement_fields)
    ).measurement
    assert measurement.value == 2.5 and measurement.meter_id == meter.id
    fetched = vayu.vayu_get_measurement.sync_detailed(measurement.id, client=client)
    assert answered(fetched).measurement == measurement
    measurements = answered(vayu.vayu_list_measurements.sync_detailed(client=client))
    assert [m.id for m in measurements.measurements] == [measurement.id]

    # The other ingest dialects.
    enso = answered(
        api("enso").enso_ingest_batch.sync_detailed(
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
    )
    assert enso.data.summary.success == 1
    collected = api("collect").collect_events.sync_detailed(
        client=client,
        body=models.CollectRequest(
            message_body=[models.CollectEvent(event_type="page_view", event_id="p1")]
        ),
    )
    assert "pingId" in answered(collected, 201).value
    profile = api("profiles").profiles_create_event.sync_detailed(
        client=client,
        body=models.ProfilesRequest(
            user=models.ProfilesUser(field_id="ent_1"),
            event=models.ProfilesRequestEvent.from_dict({"update": {"plan": "pro"}}),
        ),
    )
    assert answered(profile).results["message"] == "Event created"

    # A refused event is kept for lookup (written in the background: wait for it).
    refused = httpx.post(
        f"{server.http_url}/events",
        json={"events": [{"name": "api_call", "timestamp": "yesterday", "ref": "bad"}]},
        headers={"Authorization": f"Bearer {server.bootstrap_key}"},
    )
    assert refused.status_code == 200 and refused.json()["invalidEvents"]
    rejections = api("rejections").list_rejections
    deadline = time.monotonic() + 10
    while not (kept := answered(rejections.sync_detailed(client=client, limit=10))).rejections:
        assert time.monotonic() < deadline, "the refusal was never kept"
        time.sleep(0.1)
    assert [(r.source, r.reason) for r in kept.rejections] == [("vayu", "INVALID")]

    # Deletes, each answering what it deleted; a deleted event reads as Vayu's 404.
    deleted = answered(vayu.vayu_delete_event.sync_detailed("r-1", client=client))
    assert deleted.event.ref == "r-1" and deleted.event.deleted_at is not None
    assert answered(vayu.vayu_delete_event_v2.sync_detailed("r-2", client=client)).event.ref
    for by_refs, ref in (
        (vayu.vayu_delete_events_by_refs, "r-3"),
        (vayu.vayu_delete_events_by_refs_v2, "r-4"),
    ):
        gone = answered(
            by_refs.sync_detailed(client=client, body=models.DeleteByRefsRequest([ref]))
        )
        assert [e.ref for e in gone.events] == [ref]
    missing = answered(vayu.vayu_get_event.sync_detailed("r-1", client=client), 404)
    assert missing.code == "resource_not_found" and missing.error.code == missing.code
    gone_measurement = vayu.vayu_delete_measurement.sync_detailed(measurement.id, client=client)
    assert answered(gone_measurement).measurement.deleted_at is not None
    assert answered(vayu.vayu_delete_meter.sync_detailed(meter.id, client=client)).meter.deleted_at
    gone_customer = vayu.vayu_delete_customer.sync_detailed(created.id, client=client)
    assert answered(gone_customer).customer.id == created.id
    answered(customers.delete_customer.sync_detailed("ent_1", client=client), 204)

    unauthorised = keyed("nope")
    wrong_key = vayu.vayu_ingest_events.sync_detailed(client=unauthorised, body=batch)
    assert answered(wrong_key, 401).code == "authentication_failed"

    # The live stream, with a key of its own: it runs until that key is revoked.
    stream_key = _sluice("keys", "create", "--tenant", "streamer", data_dir=server.data_dir)
    stream_key = stream_key.strip().splitlines()[-1]
    streamer = keyed(stream_key)
    one = models.VayuIngestRequest(events=[event("s-1")])
    answered(vayu.vayu_ingest_events.sync_detailed(client=streamer, body=one))
    read = vayu.vayu_get_event.sync_detailed("s-1", client=streamer)
    answered(read)
    stored = json.loads(read.content)["event"]  # as the server renders it
    revoke = threading.Timer(
        0.5,
        _sluice,
        ("keys", "revoke", stream_key.split("_")[1]),
        {"data_dir": server.data_dir},
    )
    revoke.start()
    try:
        text = answered(api("events").stream_events.sync_detailed(client=streamer, after=0))
    finally:
        revoke.join()
    first, *_, last = _server_sent(text)
    assert json.loads(first["data"]) == {**stored, "source": "vayu"}
    assert first["id"] == stored["id"]
    assert last["event"] == "revoked"

    assert operations_hit.hit == operations_hit.all, operations_hit.all ^ operations_hit.hit
