"""Event ids: JSON-safe, time-ordered, stable per dedup key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge import event_ids


def test_ids_order_by_time_and_stay_below_2_pow_53() -> None:
    early = datetime(1970, 1, 1, tzinfo=UTC)
    late = datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert next(event_ids.candidate_ids(early, "a")) < next(
        event_ids.candidate_ids(early + timedelta(milliseconds=1), "a")
    )
    assert max(event_ids.candidate_ids(late, "z")) < 2**53


def test_the_same_key_probes_the_same_ids_and_stays_in_its_millisecond() -> None:
    moment = datetime(2026, 11, 25, 10, tzinfo=UTC)
    ids = list(event_ids.candidate_ids(moment, "push:1:msg:0"))
    assert ids == list(event_ids.candidate_ids(moment, "push:1:msg:0"))
    assert len(set(ids)) == event_ids.SLOTS_PER_MS
    ms = event_ids.epoch_ms(moment)
    assert all(event_ids.lowest_id(ms) <= i <= event_ids.highest_id(ms) for i in ids)


def test_range_limits() -> None:
    assert event_ids.in_id_range(datetime(1970, 1, 1, tzinfo=UTC))
    assert not event_ids.in_id_range(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert not event_ids.in_id_range(datetime(2100, 1, 1, tzinfo=UTC))


def test_microseconds_do_not_move_an_event_out_of_its_millisecond() -> None:
    # Ids and eventIds were derived from millisecond-rounded times: kept times must give the same ones.
    kept = datetime(2026, 11, 25, 10, 0, 0, 100999, tzinfo=UTC)
    rounded = kept.replace(microsecond=100000)
    assert event_ids.epoch_ms(kept) == event_ids.epoch_ms(rounded)
    assert list(event_ids.candidate_ids(kept, "k")) == list(event_ids.candidate_ids(rounded, "k"))


def test_message_ids_are_stable_and_distinct() -> None:
    assert event_ids.message_id("a") == event_ids.message_id("a") != event_ids.message_id("b")
