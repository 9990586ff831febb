"""`make bench` rewrites bench/RESULTS.md's table and keeps the dated before/after records
below it."""

from __future__ import annotations

from bench.report import Figure
from bench.run import dated_sections, results_document


def test_a_new_run_replaces_the_table_and_keeps_the_dated_records() -> None:
    earlier = results_document(["- date: old"], [Figure("old figure", "1 ev/s")]) + (
        "\n## 2026-12-01: uvicorn vs granian\n\nkept as it was\n"
    )
    kept = dated_sections(earlier)
    document = results_document(["- date: new"], [Figure("new figure", "2 ev/s")]) + kept
    assert "old figure" not in document and "new figure" in document
    assert document.endswith("## 2026-12-01: uvicorn vs granian\n\nkept as it was\n")
    assert dated_sections(document) == kept  # and again on the run after
    assert dated_sections(results_document([], [])) == ""
