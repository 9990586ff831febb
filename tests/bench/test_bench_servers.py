"""bench/bench_servers.py's pure parts: its arguments, the alternating server order, and the
rates and ratios its tables print, on made-up runs (no server, no wrk; fast)."""

from __future__ import annotations

import pytest

from bench.bench_http import Load
from bench.bench_servers import (
    DETAIL_HEADER,
    Run,
    by_key,
    detail_rows,
    figures,
    parse_args,
    ratio,
    server_order,
)


def load(batch: int, requests: int, seconds: float = 1.0, p99: float = 10.0) -> Load:
    return Load(batch, 32, requests, seconds, 0, p99 / 2, p99, p99 / 3)


def two_rounds() -> list[Run]:
    """granian 2x uvicorn on Sluice in round 0 and 1x in round 1; bare 4000 vs 5000 req/s."""
    rates = {
        (0, "uvicorn", "sluice"): 1000,
        (0, "granian", "sluice"): 2000,
        (1, "uvicorn", "sluice"): 1000,
        (1, "granian", "sluice"): 1000,
        (0, "uvicorn", "bare"): 4000,
        (0, "granian", "bare"): 5000,
        (1, "uvicorn", "bare"): 4000,
        (1, "granian", "bare"): 5000,
    }
    return [Run(r, server, app, load(1, n)) for (r, server, app), n in rates.items()]


def test_defaults_measure_both_loads_in_at_least_two_rounds() -> None:
    args = parse_args([])
    assert args.batches == [1, 1000]
    assert args.rounds >= 2
    assert args.seconds == 5.0
    assert parse_args(["--seconds", "2", "--rounds", "4"]).rounds == 4


def test_one_round_is_refused_since_the_order_could_not_alternate() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "1"])


def test_smoke_is_tiny_but_still_alternates() -> None:
    args = parse_args(["--smoke"])
    assert (args.seconds, args.rounds, args.batches) == (1, 2, [1])


def test_the_server_that_goes_first_alternates() -> None:
    assert server_order(0) == ("uvicorn", "granian")
    assert server_order(1) == ("granian", "uvicorn")
    assert server_order(2) == server_order(0)


def test_rounds_combine_as_total_requests_over_total_seconds() -> None:
    runs = [
        Run(0, "uvicorn", "sluice", load(1000, 100, seconds=2.0, p99=100)),
        Run(1, "uvicorn", "sluice", load(1000, 50, seconds=1.0, p99=300)),
    ]
    combined = by_key(runs)[("uvicorn", "sluice", 1000)]
    assert combined.rps == 50  # 150 requests in 3 s, not the mean of 50 and 50
    assert combined.eps == 50_000
    assert combined.p99_ms == 200  # latencies: the mean of the rounds'


def test_ratios_are_overall_and_per_round() -> None:
    runs = two_rounds()
    faster = ratio(runs, ("granian", "sluice"), ("uvicorn", "sluice"), 1)
    assert faster.overall == 1.5  # 3000 over 2000 requests in 2 s each
    assert faster.per_round == (2.0, 1.0)
    assert faster.spread() == "rounds 2.00, 1.00"
    ceiling = ratio(runs, ("uvicorn", "sluice"), ("uvicorn", "bare"), 1)
    assert ceiling.overall == 0.25


def test_the_tables_name_every_server_and_ratio() -> None:
    runs = two_rounds()
    rows = detail_rows(runs)
    assert len(rows) == 4 and all(len(row) == len(DETAIL_HEADER) for row in rows)
    assert rows[0][:3] == ["1-event", "Sluice", "uvicorn"]
    assert rows[0][4] == "1,000"  # req/s over both rounds
    by_name = {figure.name: figure for figure in figures(runs)}
    switch = by_name["Sluice on granian vs uvicorn, 1-event batches"]
    assert switch.ratio == 1.5 and switch.met is True  # the bar is 1.2x
    assert "rounds 2.00, 1.00" in switch.measured
    bare = by_name["bare Litestar on granian vs uvicorn, 1-event batches"]
    assert bare.ratio == 1.25 and bare.met is None  # no target for the ceiling
    on_uvicorn = by_name["Sluice vs bare on uvicorn, 1-event batches"]
    assert on_uvicorn.ratio == 0.25 and on_uvicorn.met is False  # under 0.7x and 10k req/s
    assert "Sluice vs bare on granian, 1-event batches" in by_name
