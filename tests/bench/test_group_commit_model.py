"""bench/group_commit_model.py: the group writer's simulated response times behave as a
single-server queue must, so the bound it gives issue 15's latency target can be trusted."""

from __future__ import annotations

from bench.group_commit_model import percentile, response_times


def test_an_idle_writer_answers_in_one_service_time() -> None:
    times = response_times(rate=1.0, service=0.010, fixed=0.0, requests=2_000)
    assert abs(percentile(times, 0.5) - 0.010) < 1e-9  # alone in its group, no wait
    assert min(times) >= 0.010 - 1e-12


def test_latency_grows_with_load_and_no_request_beats_its_own_service() -> None:
    quiet = response_times(rate=20, service=0.010, requests=20_000)
    busy = response_times(rate=80, service=0.010, requests=20_000)
    assert percentile(busy, 0.99) > percentile(quiet, 0.99)
    assert min(busy) >= 0.010  # every group serves its members in full before answering


def test_work_is_conserved() -> None:
    """Every request is answered once, and the writer never runs faster than its service time:
    the last answer comes no earlier than the work of all requests allows."""
    rate, service, n = 50.0, 0.010, 5_000
    times = response_times(rate, service, fixed=0.0, requests=n)
    assert len(times) == n
    assert sum(times) >= n * service
