"""`sluice customers import`: JSON lines or CSV streamed into the registry in bounded memory.

A file is read a line at a time (no line held past the body limit), validated by the
registry, and stored a batch at a time, each batch in one transaction. A bad line is
reported by number and skipped; the rest of the file is imported. All or nothing, or a dry run,
reads the whole file into one batch, one transaction, which is kept only if every line is good
(all or nothing) or never (a dry run).
"""

from __future__ import annotations

import asyncio
import csv
import heapq
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sluice.documents import loads_strict
from sluice.errors import InvalidCustomer, InvalidJson
from sluice.model import Customer
from sluice.registry import FIELDS, CustomerRegistry

BATCH_SIZE = 5_000
MAX_EXAMPLES = 10
CSV_ALIAS_SEPARATOR = ";"
_BOM = b"\xef\xbb\xbf"

# (line number, the customer document read there, or why none could be read)
Record = tuple[int, dict[str, Any] | str]


class UnreadableImport(Exception):
    """The file as a whole cannot be imported (a CSV header that names no id, say)."""


@dataclass
class ImportReport:
    imported: int = 0  # customers stored
    rejected: int = 0  # lines refused
    valid: int = 0  # customers that were, or would have been, stored (dry run, all or nothing)
    # The first MAX_EXAMPLES rejections by line number, as a heap of (-line, reason).
    _examples: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        heapq.heappush(self._examples, (-line, reason))
        if len(self._examples) > MAX_EXAMPLES:
            heapq.heappop(self._examples)

    @property
    def examples(self) -> list[tuple[int, str]]:
        return sorted((-line, reason) for line, reason in self._examples)


def _lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Numbered physical lines; None for one longer than limit bytes, which is skipped by
    reading past it in pieces rather than held whole."""
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if number == 1:
            line = line.removeprefix(_BOM)
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(limit + 1)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, line


def jsonl_records(stream: BinaryIO, limit: int) -> Iterator[Record]:
    """One JSON object per line, in the import format (registry.FIELDS); blank lines skipped."""
    for number, line in _lines(stream, limit):
        if line is None:
            yield number, f"the line is longer than {limit} bytes"
        elif line.strip():
            try:
                fields = loads_strict(line)
            except InvalidJson as exc:
                yield number, f"not JSON: {exc}"
                continue
            yield number, fields if isinstance(fields, dict) else "the line is not a JSON object"


def csv_records(stream: BinaryIO, limit: int) -> Iterator[Record]:
    """A header row naming columns of id,email,aliases,attributes (id required), then one
    customer a row: aliases `;`-separated, attributes a JSON object; cells trimmed, empty
    cells mean none."""
    problem: str | None = None  # why the lines of the record being read cannot be used

    def text() -> Iterator[str]:
        nonlocal problem
        # The csv reader pulls a record's lines and no more, so a problem noted here belongs
        # to the record the reader returns next.
        for _number, line in _lines(stream, limit):
            if line is None:
                problem = f"the line is longer than {limit} bytes"
                yield "\n"
                continue
            try:
                decoded = line.decode()
            except UnicodeDecodeError:
                problem, decoded = "the line is not UTF-8", line.decode(errors="replace")
            yield decoded

    csv.field_size_limit(limit)  # process-wide, and this process is the import
    reader = csv.reader(text(), strict=True)
    header = [name.strip().lower() for name in next(reader, [])]
    if "id" not in header or not set(header) <= set(FIELDS) or len(set(header)) < len(header):
        raise UnreadableImport(
            f"the first row must name the columns, each once: id (required), "
            f"email, aliases, attributes; found {','.join(header)!r}"
        )
    line_end = reader.line_num
    while True:
        start = line_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row, problem = [], f"not CSV: {exc}"
        line_end = reader.line_num
        if problem is not None:
            yield start, problem
            problem = None
        elif len(row) != len(header):
            if row:  # an empty row is a blank line
                yield start, f"expected {len(header)} columns, found {len(row)}"
        else:
            yield start, _csv_fields(dict(zip(header, row, strict=True)))


def _csv_fields(cells: dict[str, str]) -> dict[str, Any] | str:
    fields: dict[str, Any] = {"id": cells["id"].strip()}
    fields["email"] = cells.get("email", "").strip() or None
    fields["aliases"] = [
        alias.strip()
        for alias in cells.get("aliases", "").split(CSV_ALIAS_SEPARATOR)
        if alias.strip()
    ]
    if attributes := cells.get("attributes", "").strip():
        try:
            fields["attributes"] = loads_strict(attributes.encode())
        except InvalidJson as exc:
            return f"attributes are not JSON: {exc}"
    return fields


async def import_customers(
    registry: CustomerRegistry,
    tenant: str,
    records: Iterable[Record],
    progress: Callable[[ImportReport], None] = lambda report: None,
    batch_size: int = BATCH_SIZE,
    *,
    all_or_nothing: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Validate and store records a batch at a time; progress is called after each batch.

    all_or_nothing: store nothing unless every line is good; dry_run: store nothing, but
    report what would be refused (the store's own checks included). Either reads the whole
    file into one batch."""
    report = ImportReport()
    if all_or_nothing or dry_run:
        batch_size = sys.maxsize
    batch: list[Customer] = []
    lines: list[int] = []
    writing: asyncio.Future[None] | None = None

    async def store(customers: list[Customer], line_numbers: list[int]) -> None:
        undo = dry_run or (all_or_nothing and report.rejected > 0)
        refused = await registry.put_many(
            tenant, customers, all_or_nothing=all_or_nothing, dry_run=undo
        )
        for index, conflict in refused.items():
            report.reject(line_numbers[index], str(conflict))
        report.valid += len(customers) - len(refused)
        if not undo and not (all_or_nothing and refused):
            report.imported += len(customers) - len(refused)
        progress(report)

    async def flush() -> None:
        # One batch is written while the next is read, so at most two are held, and the
        # store's thread and this one overlap.
        nonlocal writing, batch, lines
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(store(batch, lines))
        await asyncio.sleep(0)  # let it hand the batch to the store before reading on
        batch, lines = [], []

    for line, fields in records:
        if isinstance(fields, str):
            report.reject(line, fields)
            continue
        try:
            batch.append(registry.customer_from(fields))
        except InvalidCustomer as exc:
            report.reject(line, str(exc))
            continue
        lines.append(line)
        if len(batch) >= batch_size:
            await flush()
    await flush()
    assert writing is not None
    await writing
    return report
