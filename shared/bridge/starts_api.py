"""The start endpoints' work: validate, then start at most once per Idempotency-Key (bridge.start_flow)."""

from __future__ import annotations

import re
import time

from bridge import push_secrets
from bridge.errors import InvalidInput, NotConfigured
from bridge.models.starts import StartAnswer, StartPath
from bridge.start_flow import IdempotentRequest, start_once
from bridge.starts import canonical_body, parse_start_body, parse_target
from bridge.validation import INVALID
from bridge.wiring import StartDependencies

ANSWER_GRACE_SECONDS = 1.5
# Printable ASCII, as HTTP header values are; long enough for any UUID or ULID scheme.
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class StartService:
    """One per container, over the function's wired dependencies."""

    def __init__(self, deps: StartDependencies) -> None:
        self.deps = deps

    def start(
        self, path: StartPath, charge_point: str | None, evse: str, body: bytes, key: str | None, caller: str
    ) -> StartAnswer:
        """Validate, then start once, or answer as the first start with the same Idempotency-Key was."""
        target = parse_target(path, charge_point, evse)
        forward = parse_start_body(body)
        idempotent = None
        if key is not None:
            if not _KEY.match(key):
                raise InvalidInput(INVALID, errors={"Idempotency-Key": ["Up to 255 printable ASCII characters."]})
            idempotent = IdempotentRequest(
                key=key, scope=f"{caller}|{target.tenant_path()}|{key}", body=canonical_body(forward)
            )
        deps = self.deps
        # The contract's bound: the answer within the tenant deadline + 2 s (half a second kept for the reply).
        answer_by = time.monotonic() + deps.settings.ampeco_timeout_seconds + ANSWER_GRACE_SECONDS
        # A 503 now, before any attempt exists: the token unreadable, or a placeholder that must never reach the tenant.
        if push_secrets.is_placeholder(deps.secret(deps.settings.ampeco_api_token_arn)):
            raise NotConfigured("AmpecoApiToken", "the AMPECO tenant's API token")
        return start_once(
            deps.attempts, deps.tenant, deps.deferrals, target, forward, idempotent, deps.clock, answer_by=answer_by
        )
