"""The `sluice` command's habits: --version, help with defaults, tenants, an unknown tenant
refused unless asked for, and `customers import --atomic/--dry-run` with honest counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from sluice import __version__
from sluice.cli import build_parser, main
from tests.conftest import mint_key


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def customer_ids(capsys: pytest.CaptureFixture[str], data_dir: Path, tenant: str) -> list[str]:
    code, out, err = run(capsys, data_dir, "customers", "list", "--tenant", tenant)
    assert code == 0, err
    return [json.loads(line)["id"] for line in out.splitlines()]


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"sluice {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["serve"],
            ["default 127.0.0.1", "default 8080", "default 50051", "default ./sluice-data"],
        ),
        (["keys", "create"], ["created if it does not exist", "SLUICE_RATE_LIMIT"]),
        (["customers", "import"], ["--create-tenant", "--atomic", "--dry-run", "from its ext"]),
        (["customers", "list"], ["--tenant TENANT", "the tenant", "default: all"]),
        (["tenants", "list"], ["--data-dir", "default ./sluice-data"]),
    ],
)
def test_every_option_has_help_and_says_its_default(capsys, argv, expected) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for phrase in expected:
        assert phrase in text, phrase


def test_every_option_of_every_command_has_help() -> None:
    def walk(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from walk(child)

    for parser in walk(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue  # its commands each have help, checked as parsers of their own
            assert action.help, f"{parser.prog}: {action.option_strings or action.dest}"


def test_tenants_list_shows_each_tenant_and_its_active_keys(capsys, data_dir: Path) -> None:
    mint_key(data_dir, "globex")
    mint_key(data_dir, "acme")
    mint_key(data_dir, "acme")
    code, out, _ = run(capsys, data_dir, "tenants", "list")
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [(row[0], row[-1]) for row in rows] == [("acme", "2"), ("globex", "1")]


def test_an_unknown_tenant_is_an_error_unless_asked_to_create_it(capsys, data_dir: Path) -> None:
    mint_key(data_dir, "acme")
    code, out, err = run(capsys, data_dir, "customers", "add", "--tenant", "acmee", "--id", "c1")
    assert (code, out) == (1, "")
    assert err == (
        "sluice: no tenant 'acmee' (`sluice tenants list` shows them; "
        "--create-tenant makes a new one)\n"
    )
    code, _, err = run(capsys, data_dir, "customers", "list", "--tenant", "nosuch")
    assert code == 1 and "no tenant 'nosuch'" in err
    path = data_dir.parent / "one.jsonl"
    path.write_text('{"id": "c1"}\n')
    code, _, err = run(capsys, data_dir, "customers", "import", "--tenant", "acmee", str(path))
    assert code == 1 and "no tenant 'acmee'" in err
    _, out, _ = run(capsys, data_dir, "tenants", "list")
    assert "acmee" not in out  # nothing was created by the mistakes

    argv = ["customers", "import", "--tenant", "beta", "--create-tenant", str(path)]
    code, out, _ = run(capsys, data_dir, *argv)
    assert (code, out) == (0, "imported 1 customer into 'beta'\n")
    assert customer_ids(capsys, data_dir, "beta") == ["c1"]
    argv = ["customers", "add", "--tenant", "gamma", "--create-tenant", "--id", "g1"]
    assert run(capsys, data_dir, *argv)[0] == 0
    _, out, _ = run(capsys, data_dir, "tenants", "list")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["acme", "beta", "gamma"]


GOOD_AND_BAD = """\
{"id": "c1", "aliases": ["one"]}
{"id": "c2", "email": "not-an-email"}
{"id": "c3"}
{"id": "c4", "aliases": ["one"]}
"""


def test_import_reports_honest_counts(capsys, data_dir: Path) -> None:
    mint_key(data_dir, "acme")
    path = data_dir.parent / "mixed.jsonl"
    path.write_text(GOOD_AND_BAD)
    code, out, err = run(capsys, data_dir, "customers", "import", "--tenant", "acme", str(path))
    assert code == 1
    assert out == "imported 2 customers into 'acme'\n"
    report = [line for line in err.splitlines() if line.startswith(("rejected", "  line"))]
    assert report[0] == "rejected 2 lines; the first 2:"
    assert [line.split(":")[0] for line in report[1:]] == ["  line 2", "  line 4"]
    assert customer_ids(capsys, data_dir, "acme") == ["c1", "c3"]

    path.write_text('{"id": "c9", "email": "x"}\n')
    code, _, err = run(capsys, data_dir, "customers", "import", "--tenant", "acme", str(path))
    assert code == 1 and "rejected 1 line; the first 1:" in err


def test_atomic_import_stores_nothing_unless_every_line_is_good(capsys, data_dir: Path) -> None:
    mint_key(data_dir, "acme")
    path = data_dir.parent / "mixed.jsonl"
    path.write_text(GOOD_AND_BAD)
    argv = ["customers", "import", "--tenant", "acme", "--atomic", str(path)]
    code, out, err = run(capsys, data_dir, *argv)
    assert code == 1
    assert out == "imported nothing into 'acme' (--atomic: 2 good customers not written)\n"
    assert "rejected 2 lines; the first 2:" in err
    assert customer_ids(capsys, data_dir, "acme") == []

    # A conflict only the store sees (an alias another stored customer holds) undoes it too.
    assert run(capsys, data_dir, "customers", "add", "--tenant", "acme", "--id", "x")[0] == 0
    argv_add = ["customers", "add", "--tenant", "acme", "--id", "held", "--alias", "taken"]
    assert run(capsys, data_dir, *argv_add)[0] == 0
    path.write_text('{"id": "n1"}\n{"id": "n2", "aliases": ["taken"]}\n')
    code, out, err = run(capsys, data_dir, *argv)
    assert code == 1 and "line 2: " in err and "belongs to customer 'held'" in err
    assert customer_ids(capsys, data_dir, "acme") == ["held", "x"]

    path.write_text('{"id": "n1"}\n{"id": "n2"}\n')
    code, out, _ = run(capsys, data_dir, *argv)
    assert (code, out) == (0, "imported 2 customers into 'acme'\n")
    assert customer_ids(capsys, data_dir, "acme") == ["held", "n1", "n2", "x"]


def test_dry_run_checks_everything_and_writes_nothing(capsys, data_dir: Path) -> None:
    mint_key(data_dir, "acme")
    path = data_dir.parent / "mixed.jsonl"
    path.write_text(GOOD_AND_BAD)
    argv = ["customers", "import", "--tenant", "acme", "--dry-run", str(path)]
    code, out, err = run(capsys, data_dir, *argv)
    assert code == 1
    assert out == "dry run: would import 2 customers into 'acme'; nothing written\n"
    assert "rejected 2 lines; the first 2:" in err and "line 4: " in err
    assert customer_ids(capsys, data_dir, "acme") == []

    path.write_text('{"id": "c1"}\n')
    code, out, _ = run(capsys, data_dir, *argv)
    assert (code, out) == (0, "dry run: would import 1 customer into 'acme'; nothing written\n")
    assert customer_ids(capsys, data_dir, "acme") == []
    # A dry run into a new tenant says so and creates nothing.
    argv = ["customers", "import", "--tenant", "new", "--create-tenant", "--dry-run", str(path)]
    assert run(capsys, data_dir, *argv)[0] == 0
    assert "new" not in run(capsys, data_dir, "tenants", "list")[1]


def test_atomic_and_dry_run_exclude_each_other(capsys, data_dir: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, data_dir, "customers", "import", "--tenant", "a", "--atomic", "--dry-run", "-")
    assert exited.value.code == 2
