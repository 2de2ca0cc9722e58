"""The reconciliation loop: watermark, overlap, resume at every page, and every way a run can stop."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.errors import StorageUnavailable
from bridge.reconcile import (
    InvalidItem,
    Kind,
    ListingFailed,
    ListingPage,
    Progress,
    ProgressConflict,
    run,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=10)


class MemoryProgress:
    def __init__(self, progress: Progress | None = None) -> None:
        self.stored = progress or Progress()
        self.saves: list[Progress] = []
        self.conflict_on_save = False

    def load(self, kind: Kind) -> Progress:
        return self.stored

    def save(self, kind: Kind, progress: Progress) -> Progress:
        if self.conflict_on_save or progress.version != self.stored.version:
            raise ProgressConflict(kind.value)
        self.stored = replace(progress, version=progress.version + 1)
        self.saves.append(self.stored)
        return self.stored


class PagedTenant:
    """Pages of item numbers; `failures` answer instead of the page at those call numbers."""

    def __init__(self, pages: list[list[int]], failures: dict[int, ListingFailed] | None = None) -> None:
        self.pages = pages
        self.failures = failures or {}
        self.calls: list[tuple[datetime, str | None]] = []

    def __call__(self, since: datetime, cursor: str | None) -> ListingPage:
        self.calls.append((since, cursor))
        failure = self.failures.pop(len(self.calls), None)
        if failure is not None:
            raise failure
        index = int(cursor) if cursor else 0
        following = str(index + 1) if index + 1 < len(self.pages) else None
        return ListingPage(list(self.pages[index]), following)


class Taker:
    def __init__(self, known: set[int] | None = None, bad: set[int] | None = None) -> None:
        self.known = set(known or ())
        self.bad = set(bad or ())
        self.taken: list[int] = []
        self.unavailable_at: int | None = None

    def __call__(self, item: Any) -> bool:
        if item == self.unavailable_at:
            raise StorageUnavailable("down", retry_after=1)
        if item in self.bad:
            raise InvalidItem("invalid fields: timestamp")
        self.taken.append(item)
        new = item not in self.known
        self.known.add(item)
        return new


def never() -> bool:
    return False


def test_a_first_run_starts_one_overlap_back_and_sets_the_watermark_to_its_start() -> None:
    store, tenant, take = MemoryProgress(), PagedTenant([[1, 2], [3]]), Taker(known={2})

    report = run(Kind.SESSIONS, store, tenant, take, now=NOW, overlap=OVERLAP, out_of_time=never)

    assert [since for since, _ in tenant.calls] == [NOW - OVERLAP, NOW - OVERLAP]
    assert [cursor for _, cursor in tenant.calls] == [None, "1"]
    assert (report.pages, report.listed, report.reconciled, report.finished) == (2, 3, 2, True)
    assert store.stored == Progress(watermark=NOW, version=2)


def test_the_next_run_starts_at_the_watermark_minus_the_overlap_and_repeats_change_nothing() -> None:
    store, take = MemoryProgress(), Taker()
    run(Kind.SESSIONS, store, PagedTenant([[1, 2]]), take, now=NOW, overlap=OVERLAP, out_of_time=never)
    later = NOW + timedelta(minutes=5)
    tenant = PagedTenant([[1, 2, 3]])  # the overlap lists 1 and 2 again

    report = run(Kind.SESSIONS, store, tenant, take, now=later, overlap=OVERLAP, out_of_time=never)

    assert tenant.calls == [(NOW - OVERLAP, None)]
    assert (report.listed, report.reconciled) == (3, 1)
    assert store.stored.watermark == later
    assert report.lag_seconds(later) == 0


def test_a_run_out_of_time_keeps_its_cursor_and_the_next_run_resumes_there() -> None:
    store, take = MemoryProgress(), Taker()
    pages = [[1], [2], [3]]
    budget = iter([False, True])  # one page, then the budget is spent

    first = run(
        Kind.SECURITY_EVENTS,
        store,
        PagedTenant(pages),
        take,
        now=NOW,
        overlap=OVERLAP,
        out_of_time=lambda: next(budget),
    )

    assert (first.pages, first.finished) == (1, False)
    assert store.stored == Progress(run_from=NOW - OVERLAP, run_until=NOW, cursor="1", version=1)
    later = NOW + timedelta(minutes=5)
    tenant = PagedTenant(pages)
    second = run(Kind.SECURITY_EVENTS, store, tenant, take, now=later, overlap=OVERLAP, out_of_time=never)
    # The interrupted run's own bounds and cursor, not a new run from `later`.
    assert tenant.calls == [(NOW - OVERLAP, "1"), (NOW - OVERLAP, "2")]
    assert second.finished
    assert store.stored.watermark == NOW  # the run began at NOW: that is what it covered
    assert take.taken == [1, 2, 3]


@pytest.mark.parametrize(
    "failure", [ListingFailed("HTTP 429, Retry-After 30"), ListingFailed("HTTP 503"), ListingFailed("not a page")]
)
def test_a_tenant_failure_mid_run_loses_nothing_and_the_next_run_retries_that_page(failure: ListingFailed) -> None:
    store, take = MemoryProgress(), Taker()
    pages = [[1], [2]]
    tenant = PagedTenant(pages, failures={2: failure})

    report = run(Kind.SECURITY_EVENTS, store, tenant, take, now=NOW, overlap=OVERLAP, out_of_time=never)

    assert report.failure == failure.reason  # the fault fired
    assert (report.pages, report.finished) == (1, False)
    assert store.stored.cursor == "1"
    retry = PagedTenant(pages)
    again = run(Kind.SECURITY_EVENTS, store, retry, take, now=NOW, overlap=OVERLAP, out_of_time=never)
    assert retry.calls == [(NOW - OVERLAP, "1")]
    assert again.finished
    assert take.taken == [1, 2]


def test_storage_failing_mid_page_takes_the_whole_page_again_next_run() -> None:
    store, take = MemoryProgress(), Taker()
    take.unavailable_at = 3
    pages = [[1], [2, 3]]

    report = run(Kind.SESSIONS, store, PagedTenant(pages), take, now=NOW, overlap=OVERLAP, out_of_time=never)

    assert report.failure is not None
    assert report.failure.startswith("storage")
    assert store.stored.cursor == "1"  # page 2 was not saved as done
    take.unavailable_at = None
    again = run(Kind.SESSIONS, store, PagedTenant(pages), take, now=NOW, overlap=OVERLAP, out_of_time=never)
    assert again.finished
    assert take.taken == [1, 2, 2, 3]  # 2 taken twice: a repeat, which changes nothing


def test_a_forgotten_cursor_restarts_the_run_once_and_a_repeated_cursor_stops_it() -> None:
    store = MemoryProgress(Progress(run_from=NOW - OVERLAP, run_until=NOW, cursor="1", version=3))
    tenant = PagedTenant([[1], [2]], failures={1: ListingFailed("HTTP 422", stale_cursor=True)})

    report = run(Kind.SESSIONS, store, tenant, Taker(), now=NOW, overlap=OVERLAP, out_of_time=never)

    assert [cursor for _, cursor in tenant.calls] == ["1", None, "1"]
    assert report.finished

    class Stuck(PagedTenant):
        def __call__(self, since: datetime, cursor: str | None) -> ListingPage:
            self.calls.append((since, cursor))
            return ListingPage([1], "same")

    stuck = Stuck([])
    store = MemoryProgress(Progress(run_from=NOW - OVERLAP, run_until=NOW, cursor="same", version=1))
    report = run(Kind.SESSIONS, store, stuck, Taker(), now=NOW, overlap=OVERLAP, out_of_time=never)
    assert report.failure == "the tenant answered the same cursor again"
    assert len(stuck.calls) == 1


def test_an_invalid_item_is_skipped_and_counted_the_rest_is_taken() -> None:
    take = Taker(bad={2})

    report = run(
        Kind.SECURITY_EVENTS,
        MemoryProgress(),
        PagedTenant([[1, 2, 3]]),
        take,
        now=NOW,
        overlap=OVERLAP,
        out_of_time=never,
    )

    assert (report.listed, report.reconciled, report.skipped, report.finished) == (3, 2, 1, True)


def test_a_concurrent_run_wins_and_this_one_stops_without_overwriting_it() -> None:
    store = MemoryProgress()
    store.conflict_on_save = True

    report = run(Kind.SESSIONS, store, PagedTenant([[1], [2]]), Taker(), now=NOW, overlap=OVERLAP, out_of_time=never)

    assert report.failure == "another run saved progress meanwhile"
    assert report.pages == 1
    assert store.saves == []
