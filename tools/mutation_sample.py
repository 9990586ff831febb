"""A seeded, stratified random sample of mutmut's mutants, and its score.

The rooms `web/*`, `rpc/*` and `storage/*` hold ~6,000 mutants: ~22 hours at ~13 s each on
the development machine. A sample drawn the same way every time scores them in under an hour,
with a confidence interval (docs/mutation.md, "Sampled: web, rpc, storage").

Run it in target/mutmut/ after mutmut has generated the mutants and collected its stats (any
`make mutation-py` does that first, e.g. with a pattern that matches nothing):

    cd target/mutmut
    ../../.venv/bin/python ../../tools/mutation_sample.py > sample.txt      # the names
    nice -n 15 ../../.venv/bin/mutmut run --max-children 1 $(cat sample.txt)
    ../../.venv/bin/python ../../tools/mutation_sample.py --score          # the results

A mutant of a function that no selected test reaches ("no tests") is not drawn: it cannot be
killed by running the tests, so it is a coverage gap, counted and reported on its own. So the
draw depends on the tests too: once new tests reach such a function, the same seed draws
other names. tools/mutation_sample.txt keeps the sample of docs/mutation.md; re-score it with

    KEPT=../../tools/mutation_sample.txt
    nice -n 15 ../../.venv/bin/mutmut run --max-children 1 $(cat $KEPT)
    ../../.venv/bin/python ../../tools/mutation_sample.py --score --names $KEPT
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

ROOMS = ("web", "rpc", "storage")
SEED = 11
SIZE = 200

# mutmut's exit codes (mutmut/stats.py, status_by_exit_code).
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
    None: "not checked",
}


def room_of(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "sluice" and parts[1] in ROOMS:
        return parts[1]
    return None


def exit_codes(mutants: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in sorted(mutants.glob("src/sluice/**/*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def reached(name: str, tests_by_function: dict[str, list[str]]) -> bool:
    # As `mutmut run` looks a mutant's tests up (mutmut/__main__.py, _run).
    function = name.replace("__init__.", "").partition("__mutmut_")[0]
    return bool(tests_by_function.get(function))


def population(mutants: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The rooms' mutants by room: those some selected test reaches, and those none does."""
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    tests_by_function = stats["tests_by_mangled_function_name"]
    tested: dict[str, list[str]] = {room: [] for room in ROOMS}
    untested: dict[str, list[str]] = {room: [] for room in ROOMS}
    for name in sorted(exit_codes(mutants)):
        room = room_of(name)
        if room is not None:
            (tested if reached(name, tests_by_function) else untested)[room].append(name)
    return tested, untested


def allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """`total` split over the rooms in proportion to their sizes (largest remainder)."""
    everything = sum(sizes.values())
    exact = {room: total * size / everything for room, size in sizes.items()}
    counts = {room: math.floor(share) for room, share in exact.items()}
    by_remainder = sorted(sizes, key=lambda room: (counts[room] - exact[room], room))
    for room in by_remainder[: total - sum(counts.values())]:
        counts[room] += 1
    return counts


def draw(tested: dict[str, list[str]], size: int, seed: int) -> dict[str, list[str]]:
    """Each room's mutants in a seeded random order, and the first of them in proportion.

    So a smaller sample is the start of a bigger one: `--size 200 --after 100` is the second
    half of the 200, which a run stopped after the first 100 can go on with.
    """
    rng = random.Random(seed)
    counts = allocate({room: len(names) for room, names in tested.items()}, size)
    drawn = {}
    for room in ROOMS:
        order = sorted(tested[room])
        rng.shuffle(order)
        drawn[room] = sorted(order[: counts[room]])
    return drawn


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    denominator = 1 + z * z / trials
    return ((centre - spread) / denominator, (centre + spread) / denominator)


def score(sample: dict[str, list[str]], codes: dict[str, int | None]) -> None:
    total: Counter[str] = Counter()
    for room in ROOMS:
        statuses = Counter(STATUS.get(codes[name], "suspicious") for name in sample[room])
        total += statuses
        print(f"{room}: {len(sample[room])} drawn, " + ", ".join(sorted_counts(statuses)))
    print("all: " + ", ".join(sorted_counts(total)))
    caught = total["killed"] + total["timeout"]
    ran = caught + total["survived"]
    if ran:
        low, high = wilson(caught, ran)
        print(f"score: {caught}/{ran} = {caught / ran:.1%} (95% Wilson {low:.1%} to {high:.1%})")
    for room in ROOMS:
        for name in sample[room]:
            if STATUS.get(codes[name]) == "survived":
                print(f"survived: {name}")


def sorted_counts(statuses: Counter[str]) -> list[str]:
    return [f"{count} {status}" for status, count in sorted(statuses.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--after", type=int, default=0, help="leave out the sample of this size")
    parser.add_argument("--score", action="store_true", help="the sample's results so far")
    parser.add_argument(
        "--names", type=Path, help="a sample drawn before (one name a line) instead of a draw"
    )
    args = parser.parse_args()

    tested, untested = population(args.mutants)
    sample = draw(tested, args.size, args.seed)
    if args.names:
        names = set(args.names.read_text().split())
        sample = {room: sorted(n for n in names if room_of(n) == room) for room in ROOMS}
    if args.after:
        before = draw(tested, args.after, args.seed)
        assert all(set(before[room]) <= set(sample[room]) for room in ROOMS)
        sample = {room: [n for n in sample[room] if n not in before[room]] for room in ROOMS}
    for room in ROOMS:
        print(
            f"{room}: {len(tested[room])} mutants reached by tests, {len(untested[room])} "
            f"with no tests, {len(sample[room])} drawn",
            file=sys.stderr,
        )
    if args.score:
        score(sample, exit_codes(args.mutants))
    else:
        for room in ROOMS:
            print("\n".join(sample[room]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
