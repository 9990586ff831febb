"""The README's examples run as written: every code block after an `<!-- example -->` line is
executed, in order, against a started server (shell blocks in one bash script that sets KEY as
the README says; Python blocks with that KEY), so the README cannot drift from the service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(r"<!-- example -->\n```(sh|python)\n(.*?)```", re.DOTALL)


def examples(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in EXAMPLE.finditer(text)]


def test_the_readme_marks_its_examples() -> None:
    found = examples((ROOT / "README.md").read_text())
    kinds = [kind for kind, _ in found]
    assert kinds.count("sh") >= 4 and kinds.count("python") >= 2
    assert "export KEY=" in found[0][1]  # the first example sets KEY; the rest use it
    for kind, code in found:
        if kind == "python":
            assert 'api_key = os.environ["KEY"]' in code or "api_key" not in code


def test_every_readme_example_runs_against_a_started_server(data_dir: Path, tmp_path) -> None:
    server = ServerProcess(data_dir).start()
    try:
        http = server.http_url.removeprefix("http://")
        text = (ROOT / "README.md").read_text()
        text = text.replace("localhost:8080", http).replace("localhost:50051", server.grpc_target)
        found = examples(text)
        work = tmp_path / "reader"  # a fresh checkout as far as the examples can tell
        work.mkdir()
        (work / ".venv").symlink_to(Path(sys.executable).parents[1])
        env = {**os.environ, "SLUICE_DATA_DIR": str(data_dir)}  # the server's store
        env.pop("KEY", None)
        script = "\n".join(code for kind, code in found if kind == "sh")
        shell = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f'{script}\nprintf "%s" "$KEY" > key'],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shell.returncode == 0, shell.stdout + shell.stderr
        out = shell.stdout
        assert '"invalidEvents":[]' in out  # the curl ingest
        assert '"id":"c1","aliases":["acct-77"]' in out  # the customer PUT
        assert "would import 2 customers into 'acme'; nothing written" in out
        assert "imported 2 customers into 'acme'" in out
        assert "sluice_requests_in_flight" in out
        assert (work / "customers.jsonl").read_text().count("\n") == 3  # c1 (PUT), c2, c3
        key = (work / "key").read_text()
        assert key.startswith("sk_")

        for kind, code in found:
            if kind != "python":
                continue
            done = subprocess.run(
                [sys.executable, "-c", code],
                cwd=work,
                env={**env, "KEY": key},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, code + done.stdout + done.stderr
    finally:
        assert server.stop() == 0
