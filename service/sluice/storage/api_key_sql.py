"""The api_keys table's columns, which both stores read and write alike."""

from __future__ import annotations

import dataclasses

from sluice.model import ApiKeyRecord

# In ApiKeyRecord's field order: rows map to records (ApiKeyRecord(*row)) and back
# (dataclasses.astuple) by position.
API_KEY_COLUMNS = ", ".join(field.name for field in dataclasses.fields(ApiKeyRecord))
