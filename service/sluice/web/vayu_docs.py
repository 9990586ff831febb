"""What Vayu's routes say in the OpenAPI document: the seed examples, the query parameters of
its lists and each route's answers in Sluice's error object (web/errors.py).

Evaluated once, when the routers are built (web/openapi.py); nothing here runs per request.
"""

# No `from __future__ import annotations`: the parameter aliases below are real annotations.

from collections.abc import Iterable
from typing import Annotated, Any

from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from sluice.web.errors import sluice_error
from sluice.web.openapi import ErrorDresser, ok, responses
from sluice.web.schemas import SluiceError

# Declared for the document and read by the handlers from the query string themselves
# (vayu_events.limit_param): typed as text, because Vayu's SDK sends `limit=2.0` and a
# malformed value must get Vayu's parameter_invalid answer, not Litestar's own.
Limit = Annotated[
    str | None,
    QueryParameter(
        name="limit", description="1 to 1000 (default 100); a whole number, also written `2.0`."
    ),
]
Cursor = Annotated[
    str | None, QueryParameter(name="cursor", description="`nextCursor` of the previous page.")
]

# Litestar leaves out every null of an example when it writes the document, so a required
# field that may be null (`nextCursor`, ...) shows a value here: a page with more after it.
NEXT = "NjVmMWEyYjNjNGQ1ZTZmNzA4MTkyYTNi"

# The seed request (tests/fixtures/vayu_seed_request.json) and what reads make of it.
EXAMPLE_EVENT = {
    "name": "api_call",
    "timestamp": "2023-09-13T18:25:43.511Z",
    "customerAlias": "customer_12345",
    "ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
    "data": {"key1": "processing_duration", "key2": "api_url"},
}
EXAMPLE_REQUEST = {"events": [EXAMPLE_EVENT]}
_AT = "2023-09-13T18:25:44.002Z"
_LATER = "2023-09-14T09:00:00.000Z"
STORED_EVENT = {**EXAMPLE_EVENT, "id": "1", "createdAt": _AT, "updatedAt": _AT}
DELETED_EVENT = {**STORED_EVENT, "updatedAt": _LATER, "deletedAt": _LATER}
EVENT_PAGE = {"events": [STORED_EVENT], "total": 2, "hasMore": True, "nextCursor": NEXT}
REFS = {"refs": [EXAMPLE_EVENT["ref"]]}

LOGIN = {"refreshToken": "sk_3q2-7wEXAMPLEkeyfromsluicekeyscreate"}
ACCESS_TOKEN = {"accessToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrXzEifQ.c2lnbmF0dXJl"}

CUSTOMER_ID = "65f1a2b3c4d5e6f708192a3b"
NEW_CUSTOMER = {"name": "Customer 12345", "aliases": ["customer_12345"], "externalId": "crm-42"}
CUSTOMER = {
    "id": CUSTOMER_ID,
    **NEW_CUSTOMER,
    "createdAt": _AT,
    "updatedAt": _AT,
}
CUSTOMER_PAGE = {"customers": [CUSTOMER], "total": 2, "hasMore": True, "nextCursor": NEXT}
CUSTOMER_CHANGES = {"currency": "EUR", "dueDays": "30_DAYS"}

METER_DOCUMENT = {
    "name": "API calls",
    "eventName": "api_call",
    "aggregationMethod": {"operator": "Count", "instanceKey": "key2"},
    "filter": {
        "conditions": [
            {
                "criterions": [
                    {"field": "key1", "operator": "Equals", "value": "processing_duration"}
                ]
            }
        ]
    },
}
METER = {"id": "65f1a2b3c4d5e6f708192a3c", **METER_DOCUMENT, "createdAt": _AT, "updatedAt": _AT}
METER_PAGE = {"meters": [METER], "total": 2, "hasMore": True, "nextCursor": NEXT}
METER_CHANGES = {"name": "API calls (EU)"}

NEW_MEASUREMENT = {
    "customerId": CUSTOMER_ID,
    "meterId": METER["id"],
    "usageDate": {"year": 2023, "month": 9, "day": 13},
    "value": 42.0,
}
MEASUREMENT = {
    "id": "65f1a2b3c4d5e6f708192a3d",
    **NEW_MEASUREMENT,
    "createdAt": _AT,
    "updatedAt": _AT,
}
MEASUREMENT_PAGE = {
    "measurements": [MEASUREMENT],
    "total": 2,
    "hasMore": True,
    "nextCursor": NEXT,
}

DRY_RUN = {
    "events": [
        {
            "event": {**EXAMPLE_EVENT, "accountId": "3f0c8a61d2b94e7f5a1c0b9e"},
            "matchedCustomer": CUSTOMER_ID,
            "meterWithValues": [{**METER_DOCUMENT, "value": 1.0, "instanceValue": "api_url"}],
        }
    ]
}

USAGE_REQUEST = {
    "customerId": CUSTOMER_ID,
    "period": {"startTime": "2023-09-01T00:00:00.000Z", "endTime": "2023-10-01T00:00:00.000Z"},
    "meters": [
        {
            "key": "calls",
            "eventName": "api_call",
            "aggregation": {"operator": "Count"},
            "filters": [{"field": "key1", "operator": "eq", "value": "processing_duration"}],
        }
    ],
    "groupBy": "day",
}
USAGE_RESULT = {
    "dataPoints": [{"group": "2023-09-13T00:00:00.000Z", "values": {"calls": 1.0}}],
    "period": USAGE_REQUEST["period"],
    "groupBy": "day",
}


def answers(
    model: type,
    example: Any,
    errors: Iterable[int],
    description: str = "Success.",
    dresser: ErrorDresser = sluice_error,
) -> dict[int, ResponseSpec]:
    """A Vayu route's 200 (`model`, with `example`) and its `errors` in Sluice's error object,
    each example dressed by `dresser` (the route's own exception handler)."""
    return responses(dresser, SluiceError, errors, {200: ok(model, example, description)})
