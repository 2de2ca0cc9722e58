"""Push secrets: each charge point signs with its own, derived from the master secrets, never stored.

    secret(cp) = "whsec_" + base64(HMAC-SHA256(key=base64decode(master without "whsec_"), msg="charge-point:" + cp))

So a push captured from one charge point, or a secret pulled out of one charger, is worth nothing for any
other. `WEBHOOK_SECRET` holds one or more masters (space-separated; several during a rotation). A value that
is not a `whsec_` secret, or a known placeholder, verifies nothing: the bridge refuses until it is set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from bridge.errors import NotConfigured

PREFIX = "whsec_"
MIN_KEY_BYTES = 24  # Standard Webhooks' own secrets are 24 to 64 random bytes
# Values a template or a quick start leaves behind: none of them is a secret.
PLACEHOLDERS = frozenset({"", "replace-me", "replace_me", "changeme", "change-me", "placeholder", "unset", "todo"})


def is_placeholder(value: str) -> bool:
    """Whether a configured secret is missing or a stand-in for one."""
    return value.strip().lower() in PLACEHOLDERS


def master_keys(configured: str) -> list[bytes]:
    """The master keys of the WebhookSecret value; NotConfigured when none is a real `whsec_` secret."""
    keys = [key for key in (_key(entry) for entry in configured.split()) if key is not None]
    if not keys:
        raise NotConfigured("WebhookSecret", "one or more whsec_ master secrets, space-separated")
    return keys


def derive(master_key: bytes, charge_point: int) -> str:
    """Charge point `charge_point`'s secret: an ordinary Standard Webhooks `whsec_` secret."""
    digest = hmac.new(master_key, f"charge-point:{charge_point}".encode(), hashlib.sha256).digest()
    return PREFIX + base64.b64encode(digest).decode("ascii")


def charge_point_secrets(configured: str, charge_point: int) -> list[str]:
    """The secrets a push for `charge_point` may be signed with: one per active master, current first."""
    return [derive(key, charge_point) for key in master_keys(configured)]


def master_secrets(configured: str) -> list[str]:
    """The masters themselves, to tell a charger configured with a master (refused all the same)."""
    return [PREFIX + base64.b64encode(key).decode("ascii") for key in master_keys(configured)]


def _key(entry: str) -> bytes | None:
    if not entry.startswith(PREFIX) or is_placeholder(entry.removeprefix(PREFIX)):
        return None
    try:
        key = base64.b64decode(entry.removeprefix(PREFIX), validate=True)
    except (ValueError, binascii.Error):
        return None
    return key if len(key) >= MIN_KEY_BYTES else None
