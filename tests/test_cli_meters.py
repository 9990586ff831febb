"""`sluice meters create|list|delete` on the store under --data-dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sluice.cli import main
from sluice.vayu_ids import is_vayu_id
from tests.conftest import mint_key

METER = {"name": "calls", "eventName": "api_call", "aggregationMethod": {"operator": "Count"}}


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["meters", *argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def tenant(data_dir: Path) -> None:
    """Meters, like customers, belong to a tenant that exists (`keys create` makes one)."""
    mint_key(data_dir, "acme")


def test_create_list_delete(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(capsys, data_dir, "create", "--tenant", "acme", json.dumps(METER))
    assert code == 0
    created = json.loads(out)
    assert is_vayu_id(created["id"]) and created["eventName"] == "api_call"
    code, out, _ = run(capsys, data_dir, "list", "--tenant", "acme")
    assert [json.loads(line) for line in out.splitlines()] == [created]
    code, out, err = run(capsys, data_dir, "list", "--tenant", "globex")
    assert code == 1 and out == "" and "no tenant 'globex'" in err  # a typo creates nothing
    assert run(capsys, data_dir, "delete", "--tenant", "acme", created["id"])[0] == 0
    code, _, err = run(capsys, data_dir, "delete", "--tenant", "acme", created["id"])
    assert code == 1 and "no meter" in err


def test_an_invalid_meter_names_its_field(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    bad = {**METER, "aggregationMethod": {"operator": "Sum"}}
    code, _, err = run(capsys, data_dir, "create", "--tenant", "acme", json.dumps(bad))
    assert code == 1 and "aggregationMethod.field" in err
    assert run(capsys, data_dir, "create", "--tenant", "acme", "{not json")[0] == 2
