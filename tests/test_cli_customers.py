"""`sluice customers add|list|import` on the store under --data-dir."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sluice.cli import main
from sluice.storage.sqlite import SqliteStore
from tests.conftest import stored_rows


@pytest.fixture(autouse=True)
def tenants(data_dir: Path) -> None:
    """The tenants these tests use exist (an unknown tenant is refused: tests/test_cli.py)."""

    async def make() -> None:
        store = SqliteStore(data_dir / "sluice.db")
        await store.open()
        try:
            for tenant in ("acme", "globex"):
                await store.ensure_tenant(tenant, 1)
        finally:
            await store.close()

    asyncio.run(make())


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["customers", *argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], data_dir: Path, tenant: str = "acme") -> list[Any]:
    code, out, _err = run(capsys, data_dir, "list", "--tenant", tenant)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_add_creates_then_replaces_and_list_prints_json_lines(capsys, data_dir: Path) -> None:
    add = ["add", "--tenant", "acme", "--id", "c1", "--email", "ann@example.com"]
    flags = ["--alias", "ann", "--alias", "a-1", "--attr", "plan=pro", "--attr", "seats:=3"]
    code, out, _ = run(capsys, data_dir, *add, *flags)
    assert (code, out) == (0, "created customer 'c1' in 'acme'\n")
    assert listed(capsys, data_dir) == [
        {
            "id": "c1",
            "aliases": ["ann", "a-1"],
            "email": "ann@example.com",
            "attributes": {"plan": "pro", "seats": 3},
        }
    ]
    code, out, _ = run(capsys, data_dir, "add", "--tenant", "acme", "--id", "c1")
    assert (code, out) == (0, "replaced customer 'c1' in 'acme'\n")
    assert listed(capsys, data_dir)[0]["aliases"] == []


def test_add_refuses_bad_input_and_taken_aliases(capsys, data_dir: Path) -> None:
    base = ["add", "--tenant", "acme", "--id"]
    assert run(capsys, data_dir, *base, "c1", "--alias", "taken")[0] == 0
    code, _, err = run(capsys, data_dir, *base, "c2", "--email", "not-an-email")
    assert code == 1 and "email" in err
    code, _, err = run(capsys, data_dir, *base, "c2", "--alias", "taken")
    assert code == 1 and "'taken' belongs to customer 'c1'" in err
    for attr in ["novalue", "=x", "n:=NaN"]:
        code, _, err = run(capsys, data_dir, *base, "c2", "--attr", attr)
        assert code == 2 and err.startswith("sluice: "), attr
    assert [c["id"] for c in listed(capsys, data_dir)] == ["c1"]


def test_list_is_per_tenant_and_takes_a_limit(capsys, data_dir: Path) -> None:
    for tenant, id_ in [("acme", "b"), ("acme", "a"), ("globex", "g")]:
        assert run(capsys, data_dir, "add", "--tenant", tenant, "--id", id_)[0] == 0
    assert [c["id"] for c in listed(capsys, data_dir)] == ["a", "b"]
    assert [c["id"] for c in listed(capsys, data_dir, "globex")] == ["g"]
    code, out, _ = run(capsys, data_dir, "list", "--tenant", "acme", "--limit", "1")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == ["a"]


JSONL = b"""\
{"id": "c1", "email": "one@example.com", "aliases": ["one"], "attributes": {"plan": "pro"}}

{"id": "c2"
[1, 2]
{"id": "c3", "email": "nope"}
{"id": "c4", "alias": ["typo"]}
{"id": "c5", "aliases": ["one"]}
{"id": "c6", "attributes": {"n": NaN}}
{"id": "c7", "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "ignored"}
{"id": "c1", "email": "one@example.com", "aliases": ["one", "uno"]}
"""


def test_import_jsonl_stores_good_lines_and_reports_bad_ones(capsys, data_dir: Path) -> None:
    path = data_dir.parent / "customers.jsonl"
    path.write_bytes(JSONL)
    code, out, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path))
    assert code == 1  # some lines were rejected; the rest is in
    assert out == "imported 3 customers into 'acme'\n"
    rejected = [line.strip() for line in err.splitlines() if line.strip().startswith("line ")]
    assert [line.split(":")[0] for line in rejected] == [
        "line 3",  # not JSON
        "line 4",  # not an object
        "line 5",  # email
        "line 6",  # unknown field
        "line 7",  # alias held by c1
        "line 8",  # NaN
    ]
    assert "belongs to customer 'c1'" in rejected[4] and "email" in rejected[2]
    assert "rejected 6 lines" in err and "importing" in err  # the progress bar, on stderr
    customers = listed(capsys, data_dir)
    assert [c["id"] for c in customers] == ["c1", "c7"]
    assert customers[0]["aliases"] == ["one", "uno"]  # the later line replaced the earlier


def test_the_report_names_the_first_ten_rejected_lines(capsys, data_dir: Path) -> None:
    path = data_dir.parent / "many-bad.jsonl"
    path.write_text("".join(f'{{"id": "c{i}", "email": "bad"}}\n' for i in range(1, 31)))
    code, out, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path))
    assert (code, out) == (1, "imported 0 customers into 'acme'\n")
    assert "rejected 30 lines" in err
    reported = [line.split(":")[0].strip() for line in err.splitlines() if "  line " in line]
    assert reported == [f"line {i}" for i in range(1, 11)]


CSV = (
    (
        "\ufeffid,email,aliases,attributes\n"  # a byte-order mark, as spreadsheets write
        'c1,one@example.com,one;uno,"{""plan"": ""pro"", ""seats"": 3}"\n'
        "c2,,,\n"
        ' c3 , three@example.com , a3 ; b3 ;,""\n'
        "c4,bad-email,,\n"
        'c5,,,"{not json"\n'
        "c6,,\n"
        "\n"
        'c7,,,"{""note"":\n""two lines""}"\n'  # a quoted cell may span lines
        "c8,,,[1]\n"
    ).encode()
    + b"c\xe9,,,\n"
    + b"c10,ten@example.com,one,\n"
)


def test_import_csv_reads_columns_and_reports_bad_rows(capsys, data_dir: Path) -> None:
    path = data_dir.parent / "customers.CSV"
    path.write_bytes(CSV)
    code, out, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path))
    assert code == 1
    assert out == "imported 4 customers into 'acme'\n"
    rejected = [line.strip().split(":")[0] for line in err.splitlines() if "  line " in line]
    # c4 (email), c5 (attributes), c6 (columns), c8 (attributes), c9 (not UTF-8), c10 (alias)
    assert rejected == ["line 5", "line 6", "line 7", "line 11", "line 12", "line 13"]
    assert listed(capsys, data_dir) == [
        {
            "id": "c1",
            "aliases": ["one", "uno"],
            "email": "one@example.com",
            "attributes": {"plan": "pro", "seats": 3},
        },
        {"id": "c2", "aliases": [], "email": None, "attributes": {}},
        {"id": "c3", "aliases": ["a3", "b3"], "email": "three@example.com", "attributes": {}},
        {"id": "c7", "aliases": [], "email": None, "attributes": {"note": "two lines"}},
    ]


def test_csv_columns_may_come_in_any_order_but_id_is_required(capsys, data_dir: Path) -> None:
    good = data_dir.parent / "good.csv"
    good.write_text("email,id\nx@example.com,c1\n")
    assert run(capsys, data_dir, "import", "--tenant", "acme", str(good))[0] == 0
    assert listed(capsys, data_dir)[0]["email"] == "x@example.com"
    for header in ["email,aliases", "id,phone", "id,id", ""]:
        bad = data_dir.parent / "bad.csv"
        bad.write_text(f"{header}\nc2,x\n")
        code, _, err = run(capsys, data_dir, "import", "--tenant", "acme", str(bad))
        assert code == 2 and "first row must name the columns" in err, header


def test_format_comes_from_the_extension_or_the_flag(capsys, data_dir: Path) -> None:
    path = data_dir.parent / "customers.txt"
    path.write_text("id\nc1\n")
    code, _, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path))
    assert code == 2 and "--format" in err
    assert run(capsys, data_dir, "import", "--tenant", "acme", str(path), "--format", "csv")[0] == 0
    code, _, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path) + ".missing.csv")
    assert code == 2 and "No such file" in err


def test_dash_reads_json_lines_from_stdin(capsys, data_dir: Path, monkeypatch) -> None:
    lines = b'{"id": "s1"}\n{"id": "s2", "aliases": ["x"]}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines)))
    code, out, _ = run(capsys, data_dir, "import", "--tenant", "acme", "-")
    assert (code, out) == (0, "imported 2 customers into 'acme'\n")
    assert [c["id"] for c in listed(capsys, data_dir)] == ["s1", "s2"]


def test_list_output_imports_again_as_is(capsys, data_dir: Path) -> None:
    for argv in [["--id", "c1", "--alias", "x", "--attr", 'a:={"b": [1]}'], ["--id", "c2"]]:
        assert run(capsys, data_dir, "add", "--tenant", "acme", *argv)[0] == 0
    exported = data_dir.parent / "export.jsonl"
    exported.write_text(run(capsys, data_dir, "list", "--tenant", "acme")[1])
    assert run(capsys, data_dir, "import", "--tenant", "globex", str(exported))[0] == 0
    assert listed(capsys, data_dir, "globex") == listed(capsys, data_dir, "acme")


def test_a_line_over_the_body_limit_is_rejected_without_being_held(
    capsys, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SLUICE_MAX_BODY_BYTES", "100")
    path = data_dir.parent / "long.jsonl"
    long_line = json.dumps({"id": "long", "attributes": {"x": "y" * 1000}})
    path.write_text(f'{{"id": "a"}}\n{long_line}\n{{"id": "b"}}\n')
    code, _, err = run(capsys, data_dir, "import", "--tenant", "acme", str(path))
    assert code == 1 and "line 2: the line is longer than 100 bytes" in err
    assert [c["id"] for c in listed(capsys, data_dir)] == ["a", "b"]


ROWS = 1_000_000
# The importer holds two batches of 5,000 customers and a line at a time; measured peak RSS
# is about 46 MB (the interpreter, sqlite and rich are ~27 MB of it). The input is 123 MB
# and a million parsed customers take several hundred MB, so an importer that read the
# file whole or kept its rows could not stay under this bound, with 3x headroom over what
# streaming needs.
MAX_RSS_MB = 150
# Runs the import as its only child, so RUSAGE_CHILDREN measures the import and nothing
# else (this pytest process's other children, or its own size inherited at fork).
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


@pytest.mark.slow
def test_a_million_row_import_streams_in_bounded_memory(data_dir: Path) -> None:
    path = data_dir.parent / "million.jsonl"
    with path.open("w") as file:
        file.writelines(
            f'{{"id":"cust-{i:07d}","email":"user{i:07d}@example.com",'
            f'"aliases":["alias-{i:07d}"],"attributes":{{"plan":"pro","seats":{i % 50}}}}}\n'
            for i in range(ROWS)
        )
    command = [sys.executable, "-m", "sluice", "customers", "import", "--tenant", "acme"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command, "--data-dir", str(data_dir), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    *output, max_rss_kb = done.stdout.splitlines()  # Linux reports ru_maxrss in KiB
    assert output == [f"imported {ROWS:,} customers into 'acme'"]
    assert "rows" in done.stderr  # the progress bar
    counts = stored_rows(
        data_dir,
        "SELECT (SELECT count(*) FROM customers WHERE tenant = 'acme'), "
        "(SELECT count(*) FROM customer_aliases WHERE tenant = 'acme')",
    )
    assert counts == [(ROWS, ROWS)]
    peak_mb = int(max_rss_kb) / 1024
    print(f"imported {ROWS:,} rows in {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB")
    assert peak_mb < MAX_RSS_MB
    path.unlink()  # 123 MB; pytest keeps the last few temp directories
