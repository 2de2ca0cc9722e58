"""The local run's secrets and banner: nothing well-known verifies anything, and the printed push works."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from bridge import push_secrets
from local.__main__ import LocalSettings, signed_push_example
from local.server import BridgeServer
from tests.harness import WEBHOOK_SECRET, Bridge


def test_unset_secrets_are_made_up_for_each_run() -> None:
    first, second = LocalSettings.from_env({}), LocalSettings.from_env({})
    assert first.made_up == ("AMPECO_API_TOKEN", "WEBHOOK_SECRET", "CURSOR_SECRET")
    assert first.ampeco_token != second.ampeco_token
    assert first.webhook_secret != second.webhook_secret
    assert push_secrets.master_keys(first.webhook_secret)  # a real master, not a placeholder
    assert first.placeholders() == []


def test_set_secrets_are_kept_and_placeholders_are_named() -> None:
    settings = LocalSettings.from_env({"AMPECO_API_TOKEN": "replace-me", "WEBHOOK_SECRET": "not-a-master"})
    assert (settings.ampeco_token, settings.webhook_secret) == ("replace-me", "not-a-master")
    assert settings.made_up == ("CURSOR_SECRET",)
    [token, master] = settings.placeholders()
    assert "AMPECO_API_TOKEN" in token
    assert "WEBHOOK_SECRET" in master


@pytest.fixture
def server(bridge: Bridge) -> Iterator[BridgeServer]:
    local = BridgeServer(bridge.stack, bridge.stack.template, port=0, deliveries=bridge.deliveries)
    local.start()
    yield local
    local.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the banner's example signs with openssl")
def test_the_banners_signed_push_is_accepted_as_printed(bridge: Bridge, server: BridgeServer) -> None:
    lines = signed_push_example(server.url, WEBHOOK_SECRET)
    script = "\n".join(line.strip() for line in lines if not line.strip().startswith("#"))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert '"Accepted."' in done.stdout, (done.stdout, done.stderr)
    [stored] = [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]
    assert stored["chargePoint"]["N"] == "1"
