"""Webhook authenticity: Standard Webhooks for direct pushes, AMPECO's HMAC for notifications.

Both run on the raw body before anything parses it; every failure is one `Unauthenticated`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from bridge.errors import Unauthenticated
from bridge.ids import decimal

MAX_SIGNATURES = 10  # several secrets in rotation, never an unbounded list to try


def verify_standard_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    tolerance_seconds: int,
    now: datetime,
) -> str:
    """Check `webhook-*` headers against any active secret; returns the webhook id."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signature_header = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signature_header):
        raise Unauthenticated("Missing webhook signature headers.", reason="missing_signature")
    seconds = decimal(timestamp)  # ASCII digits only: the signed content is written in them
    if seconds is None or len(timestamp) > 11:
        raise Unauthenticated("Invalid webhook timestamp.", reason="bad_timestamp")
    try:
        sent_at = datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise Unauthenticated("Invalid webhook timestamp.", reason="bad_timestamp") from exc
    skew = (now - sent_at).total_seconds()
    if abs(skew) > tolerance_seconds:
        reason = "stale_timestamp" if skew > 0 else "future_timestamp"
        raise Unauthenticated("Webhook timestamp is outside the tolerance window.", reason=reason)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unauthenticated("Webhook body is not UTF-8.", reason="bad_signature") from exc

    offered = _offered_v1_signatures(signature_header)
    for secret in secrets:
        try:
            expected = Webhook(secret).sign(msg_id=msg_id, timestamp=sent_at, data=text).split(",", 1)[1]
        except (ValueError, binascii.Error, EmptyWebhookSecretError):
            continue  # a malformed configured secret must not hide the valid ones
        if any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in offered):
            return msg_id
    raise Unauthenticated("No matching webhook signature.")


def _offered_v1_signatures(header: str) -> list[str]:
    # Entries are "v1,<base64>" separated by spaces; malformed entries are skipped, not fatal.
    signatures = []
    for entry in header.split(" ")[:MAX_SIGNATURES]:
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            signatures.append(value)
    return signatures


def verify_ampeco_signature(body: bytes, signature: str | None, token: str) -> None:
    """AMPECO signs the raw body with HMAC-SHA256 keyed by the API token, as hex or base64."""
    if not signature:
        raise Unauthenticated("Missing X-Signature header.", reason="missing_signature")
    digest = hmac.new(token.encode(), body, hashlib.sha256).digest()
    candidate = signature.strip()
    if hmac.compare_digest(candidate.lower().encode(), digest.hex().encode()):
        return
    try:
        decoded = base64.b64decode(candidate, validate=True)
    except (ValueError, binascii.Error):
        decoded = b""
    if hmac.compare_digest(decoded, digest):
        return
    raise Unauthenticated("Invalid X-Signature.")


def body_fingerprint(body: bytes) -> str:
    """AMPECO sends no delivery id: the same bytes are the same delivery."""
    return hashlib.sha256(body).hexdigest()
