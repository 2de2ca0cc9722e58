"""The people at the other end: webhook senders and start callers, each retrying as the real one does."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import Answer

MAX_RETRIES = 5


def webhook_sender(send: Callable[[], Answer]) -> list[Answer]:
    """AMPECO or a charge point: the same bytes (same webhook-id) again on any non-2xx."""
    return _retrying(send, lambda status: not 200 <= status < 300)


def keyed_caller(send: Callable[[], Answer]) -> list[Answer]:
    """A start caller with an Idempotency-Key: the same key again on 409, 429 and 5xx."""
    return _retrying(send, lambda status: status in (409, 429) or status >= 500)


def unkeyed_caller(send: Callable[[], Answer]) -> list[Answer]:
    """A start caller without a key: again only on 429 and 503, which say nothing was sent."""
    return _retrying(send, lambda status: status in (429, 503))


def _retrying(send: Callable[[], Answer], retry_on: Callable[[int], bool]) -> list[Answer]:
    answers = [send()]
    while retry_on(answers[-1].status) and len(answers) <= MAX_RETRIES:
        answers.append(send())
    return answers
