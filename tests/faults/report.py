"""The fault report: one row per case, written by whichever worker ran it, printed once at the end of the run."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.faults.cases import Case
from tests.faults.flows import Observed
from tests.faults.invariants import Verdict

COLUMNS = (
    "Flow",
    "Call",
    "Fault",
    "Answered on each try",
    "Events lost",
    "Duplicates delivered",
    "Tenant calls per key",
    "Verdict",
)


@dataclass(frozen=True)
class Row:
    """One case's line of the report; `order` is its place in the case table."""

    order: int
    flow: str
    call: str
    fault: str
    answered: str
    lost: int
    duplicates: int
    tenant_calls: str
    verdict: str

    def cells(self) -> tuple[str, ...]:
        """The row in COLUMNS order."""
        figures = (str(self.lost), str(self.duplicates), self.tenant_calls)
        return (self.flow, self.call, self.fault, self.answered, *figures, self.verdict)


INTRODUCTION = """\
One fault at one AWS call of one flow (once, unless the Fault column says otherwise), then the retries the
real world makes: a webhook sender sends the same bytes again on any non-2xx (up to 5 retries); a start
caller with an Idempotency-Key repeats on 409, 429 and 5xx, one without a key only on 429 and 503; Lambda
redelivers failed SQS messages and retries failed stream records; the sweep runs an hour on; the relay
drains; an operator runs `redrive`. A keyed caller also repeats its key once more at the end.
"Answered on each try" lists the HTTP statuses in order (`set-up` when they only set the stage), then
Lambda's tries in the faulted step.
"""


def answered(observed: Observed) -> str:
    """The HTTP statuses in order, then the subject's Lambda tries (and a redrive, when one was needed)."""
    statuses = ", ".join(str(a.status) for a in observed.answers)
    parts = [f"set-up {statuses}" if observed.staged else " → ".join(str(a.status) for a in observed.answers)]
    parts += [f"{step}: {' → '.join(tries) or 'nothing'}" for step, tries in observed.steps.items()]
    if observed.aftermath.get("redriven"):
        parts.append(f"redriven {observed.aftermath['redriven']}")
    return "; ".join(parts)


def row_for(order: int, case: Case, observed: Observed, verdict: Verdict) -> Row:
    """A case's line of the report."""
    calls = "-" if verdict.tenant_calls is None else str(verdict.tenant_calls)
    return Row(
        order=order,
        flow=case.flow.name,
        call=str(case.site),
        fault=case.kind if case.times == 1 else f"{case.kind}, {case.times} times",
        answered=answered(observed),
        lost=verdict.lost,
        duplicates=verdict.duplicates,
        tenant_calls=calls if observed.keyed or verdict.tenant_calls is None else f"{calls} (no key)",
        verdict=verdict_text(verdict, case.bug, case.duplicates),
    )


def verdict_text(verdict: Verdict, bug: str | None, duplicates_allowed: int) -> str:
    """ok, a known bug (the case is an expected failure), or what broke."""
    if verdict.broken:
        return f"known bug: {bug}" if bug else "BROKEN: " + "; ".join(verdict.broken)
    if bug:
        return "ok (a known bug no longer shows)"
    return "ok (same eventId: subscribers drop it)" if duplicates_allowed else "ok"


class RowWriter:
    """Appends rows to this process's file in the run's directory; no directory, no report."""

    def __init__(self, directory: str | None) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._file = Path(directory) / f"{worker}.jsonl" if directory else None

    def write(self, row: Row) -> None:
        if self._file is not None:
            with self._file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(row)) + "\n")


def read_rows(directory: Path) -> list[Row]:
    """Every worker's rows, in case-table order."""
    rows = [Row(**json.loads(line)) for path in directory.glob("*.jsonl") for line in path.read_text().splitlines()]
    return sorted(rows, key=lambda row: row.order)


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table, with a line of totals."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    lines += ["", totals(rows)]
    return "\n".join(lines)


def totals(rows: list[Row]) -> str:
    """One line: what was lost or doubled, and how much of it is a known bug or unavoidable."""
    calls = [int(row.tenant_calls.split()[0]) for row in rows if row.tenant_calls[:1].isdigit()]
    bugs = [row for row in rows if row.verdict.startswith("known bug")]
    unavoidable = sum(row.duplicates for row in rows if "same eventId" in row.verdict)
    broken = sum(row.verdict.startswith("BROKEN") for row in rows)
    return (
        f"{len(rows)} cases. Events lost: {sum(row.lost for row in rows)} ({sum(row.lost for row in bugs)} in known "
        f"bugs). Duplicates delivered: {sum(row.duplicates for row in rows)} ({unavoidable} unavoidable, with the "
        f"same eventId). Tenant calls per key: at most {max(calls, default=0)}. Known bugs: {len(bugs)}. "
        f"Broken: {broken}."
    )
