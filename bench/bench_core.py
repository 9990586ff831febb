"""Core throughput: events/s on one core for `sluice._core` through its Python binding,
against serde_json parsing the same bytes into `serde_json::Value` (Rust, same run) and a
pure-Python pipeline (orjson + Python validation + hashlib keys).

    .venv/bin/python -m bench.bench_core [--seconds 2] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import corpus, pure_python
from bench.report import ROOT, Figure, best_rate, common_arguments, finish, rate
from sluice import _core

TENANT = "bench"


def rust_rates(corpus_dir: Path, seconds: float, release: bool) -> dict[str, dict[str, float]]:
    """Runs core_rs/examples/core_vs_serde.rs over the corpora: corpus -> contender -> ev/s."""
    command = ["cargo", "run", "--quiet", "--example", "core_vs_serde"]
    if release:
        command.insert(3, "--release")
    out = subprocess.run(
        [*command, "--", str(corpus_dir), str(seconds)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {result.pop("corpus"): result for result in results}


def core_rate(bodies: list[bytes], events: int, dialect: str, seconds: float) -> float:
    """The binding as the pipeline calls it: parse, then read the rows."""
    parse = _core.parse_enso_batch if dialect == "enso" else _core.parse_vayu_batch
    limits = _core.Limits()

    def work() -> None:
        for body in bodies:
            parse(body, TENANT, corpus.NOW_US, limits).events  # noqa: B018

    return best_rate(work, events, seconds)


def python_rate(bodies: list[bytes], events: int, dialect: str, seconds: float) -> float:
    def work() -> None:
        for body in bodies:
            pure_python.parse_batch(body, TENANT, corpus.NOW_US, dialect)

    return best_rate(work, events, seconds)


def check_same_outcome(bodies: list[bytes], dialect: str) -> None:
    """Both sides accept and reject the same events (so they did the same work)."""
    parse = _core.parse_enso_batch if dialect == "enso" else _core.parse_vayu_batch
    for body in bodies:
        batch = parse(body, TENANT, corpus.NOW_US, _core.Limits())
        rows, rejected, _echoes = pure_python.parse_batch(body, TENANT, corpus.NOW_US, dialect)
        core_rows = [(row.index, row.id, row.timestamp_us, row.payload) for row in batch.events]
        python_rows = [(index, id_, ts, payload) for index, _, _, id_, _, ts, _, payload, _ in rows]
        assert [r[:2] for r in batch.rejected] == [r[:2] for r in rejected], dialect
        assert core_rows == python_rows, f"{dialect}: rows differ"


def run(seconds: float, batches: int, release: bool = True, rounds: int = 3) -> list[Figure]:
    """Each contender's best of `rounds` rounds, the rounds interleaved (serde_json and the
    core in Rust, then the binding and pure Python, then again): on a shared virtual machine a
    core's speed drifts by a fifth between minutes, and a ratio of two figures measured minutes
    apart measured the drift as much as the code."""
    bodies = {name: corpus.batches(name, batches) for name in corpus.CORPORA}
    for name in corpus.CORPORA:
        check_same_outcome(bodies[name][:1], "enso" if name == "enso" else "vayu")
    rust: dict[str, dict[str, float]] = {}
    ours: dict[str, dict[str, float]] = {name: {} for name in corpus.CORPORA}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-core-") as tmp:
        corpus.write(Path(tmp), bodies)
        for _ in range(rounds):
            for name, rates in rust_rates(Path(tmp), seconds, release).items():
                best = rust.setdefault(name, {})
                for contender, value in rates.items():
                    best[contender] = max(best.get(contender, 0.0), value)
            for name in corpus.CORPORA:
                dialect = "enso" if name == "enso" else "vayu"
                events = corpus.events_in(bodies[name])
                for contender, measure in (("core", core_rate), ("python", python_rate)):
                    value = measure(bodies[name], events, dialect, seconds)
                    ours[name][contender] = max(ours[name].get(contender, 0.0), value)

    figures = []
    for name in corpus.CORPORA:
        core, python = ours[name]["core"], ours[name]["python"]
        serde = rust[name]["serde_value_eps"]
        pure_rust = rust[name]["core_batch_rust_eps"]
        figures += [
            Figure(
                f"core {name} (binding) vs serde_json Value",
                rate(core),
                f"serde_json {rate(serde)}",
                core / serde,
                ">= 0.8x",
                core / serde >= 0.8,
            ),
            Figure(
                f"core {name} (binding) vs pure Python",
                rate(core),
                f"Python {rate(python)}",
                core / python,
                ">= 10x",
                core / python >= 10,
            ),
            Figure(
                f"core {name} in Rust (no binding) vs serde_json Value",
                rate(pure_rust),
                f"serde_json {rate(serde)}",
                pure_rust / serde,
            ),
        ]
    return figures


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=2.0, help="per contender and corpus")
    parser.add_argument("--batches", type=int, default=20, help="1000-event bodies per corpus")
    args = parser.parse_args(argv)
    if args.smoke:
        # Debug build: `cargo test` has already built the example that way.
        figures = run(seconds=0.05, batches=1, release=False, rounds=1)
    else:
        figures = run(args.seconds, args.batches)
    finish(figures, args.json, "Core: events/s on one core, same corpus, same run", args.smoke)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
