"""The tenant simulator's webhook deliveries: signed as AMPECO signs them, sent in the background, and each
dropped instead with probability `drop_share`, as AMPECO drops a webhook it gave up retrying."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 5.0

# Deliveries go straight to the webhook URL, never through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Outgoing = tuple[dict[str, Any], dict[str, int]]
"""One notification to send: its body, and the ids a drop is logged with (never the body)."""


@dataclass(frozen=True)
class SentNotification:
    """One notification the simulator tried to deliver; `status` is None when no HTTP answer came."""

    notification: str
    url: str
    body: dict[str, Any]
    raw_body: bytes
    headers: dict[str, str]
    status: int | None
    error: str | None = None


@dataclass(frozen=True)
class DroppedNotification:
    """One notification dropped instead of sent; `ids` name what it was about (`sessionId`, `eventId`, ...)."""

    notification: str
    ids: dict[str, int]


def signed_headers(raw: bytes, token: str, tenant: str) -> dict[str, str]:
    """AMPECO's notification headers: hex HMAC-SHA256 of the raw body keyed with the API token."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "ampeco-tenant-simulator",
        "X-Signature": hmac.new(token.encode(), raw, hashlib.sha256).hexdigest(),
        "X-Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "X-Tenant": tenant,
    }


class Notifier:
    """Background deliveries, and a record of what was sent and what was dropped."""

    def __init__(self, stopping: threading.Event, drop_share: float = 0.0, drop_seed: int | None = None) -> None:
        if not (math.isfinite(drop_share) and 0 <= drop_share <= 1):
            raise ValueError(f"drop_share must be from 0 to 1, not {drop_share!r}")
        self.drop_share = drop_share
        self._stopping = stopping
        self._dice = random.Random(drop_seed)
        self._lock = threading.Condition()
        self._sent: list[SentNotification] = []
        self._dropped: list[DroppedNotification] = []
        self._threads: list[threading.Thread] = []
        self._pending = 0

    def schedule(
        self, url: str, token: str, tenant: str, outgoing: list[Outgoing], delay: float = 0.0
    ) -> threading.Thread:
        """A thread that sends `outgoing` in order after `delay`, counted as pending from now (the caller
        starts it, e.g. once the answer that must go out first is written)."""
        thread = threading.Thread(
            target=self._deliver_all, args=(url, token, tenant, outgoing, delay), name="tenant-sim-notify", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive() or t.ident is None]
            self._threads.append(thread)
            self._pending += 1
        return thread

    @property
    def sent(self) -> list[SentNotification]:
        with self._lock:
            return list(self._sent)

    @property
    def dropped(self) -> list[DroppedNotification]:
        with self._lock:
            return list(self._dropped)

    def wait_for_sent(self, count: int, timeout: float) -> list[SentNotification]:
        with self._lock:
            self._lock.wait_for(lambda: len(self._sent) >= count, timeout=timeout)
            return list(self._sent)

    def wait_until_idle(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def join(self) -> None:
        """Wait for the started threads (after `stopping` is set they end at their next step)."""
        with self._lock:
            threads = [t for t in self._threads if t.ident is not None]
        for thread in threads:
            thread.join(timeout=DELIVERY_TIMEOUT_SECONDS)

    def _deliver_all(self, url: str, token: str, tenant: str, outgoing: list[Outgoing], delay: float) -> None:
        try:
            if delay and self._stopping.wait(delay):
                return
            for body, ids in outgoing:
                if self._stopping.is_set():
                    return
                if self._drops_next():
                    self._drop(str(body["notification"]), ids)
                else:
                    self._deliver(url, token, tenant, body)
        finally:
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def _drops_next(self) -> bool:
        with self._lock:  # one generator for every delivery thread: a seed gives one sequence of draws
            return self.drop_share > 0 and self._dice.random() < self.drop_share

    def _drop(self, notification: str, ids: dict[str, int]) -> None:
        named = " ".join(f"{name}={value}" for name, value in ids.items())
        log.info("tenant simulator: dropped %s (%s)", notification, named)
        with self._lock:
            self._dropped.append(DroppedNotification(notification, dict(ids)))

    def _deliver(self, url: str, token: str, tenant: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = signed_headers(raw, token, tenant)
        status: int | None = None
        error: str | None = None
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with _DIRECT.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
            exc.close()
        except (OSError, ValueError) as exc:  # refused, reset, timeout, bad URL: logged, never fatal
            error = f"{type(exc).__name__}: {exc}"
        if error:
            log.warning("tenant simulator: %s to %s failed: %s", body["notification"], url, error)
        sent = SentNotification(str(body["notification"]), url, body, raw, headers, status, error)
        with self._lock:
            self._sent.append(sent)
            self._lock.notify_all()
