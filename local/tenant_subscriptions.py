"""AMPECO's `POST /public-api/notifications/v2.0` on the simulated tenant: where its notifications go.

`{"via": "webhook", "notifications": [...], "webhook": {"callbackUrl": ...}}` answers 201 with the created
subscription under `data` (with an id), and from then on the simulator sends its notifications there; a body
that is not one answers 422 `{message, errors}` as AMPECO does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

NOTIFICATIONS_PATH = "/public-api/notifications/v2.0"
MAX_CALLBACK_URL = 500


def subscription_problems(body: Any) -> dict[str, list[str]]:
    """What is wrong with a subscription request, by field (empty: nothing)."""
    if not isinstance(body, dict):
        return {"body": ["The request body must be a JSON object."]}
    problems: dict[str, list[str]] = {}
    if body.get("via") not in ("webhook", "kafka"):
        problems["via"] = ["The selected via is invalid."]
    kinds = body.get("notifications")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k for k in kinds):
        problems["notifications"] = ["The notifications field must be a non-empty list of notification names."]
    if body.get("via") == "webhook":
        webhook = body.get("webhook")
        url = webhook.get("callbackUrl") if isinstance(webhook, dict) else None
        parts = urlsplit(url) if isinstance(url, str) else None
        if not (parts and parts.scheme in ("http", "https") and parts.hostname and len(url or "") <= MAX_CALLBACK_URL):
            problems["webhook.callbackUrl"] = ["The webhook.callback url must be a valid URL."]
    return problems


def created(subscription_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """The 201 answer."""
    data = {"id": subscription_id, "via": body["via"], "notifications": body["notifications"]}
    if "webhook" in body:
        data["webhook"] = {"callbackUrl": body["webhook"]["callbackUrl"]}
    return {"data": data}
