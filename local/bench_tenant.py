"""The AMPECO tenant simulator in a process of its own, so that its CPU is never counted as the bridge's.

`python -m local.bench_tenant TOKEN` prints the simulator's base URL on one line and serves until stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def tenant_process(token: str) -> Iterator[str]:
    """A started simulator (no webhook URL: it sends no notifications); yields its base URL."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", "local.bench_tenant", token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the tenant simulator did not start")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str]) -> int:
    from local.tenant_sim import TenantSimulator

    simulator = TenantSimulator(argv[1], None, tenant="bench")
    print(simulator.start(), flush=True)
    try:
        sys.stdin.read()  # until the bench closes it
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
