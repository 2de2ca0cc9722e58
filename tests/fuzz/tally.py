"""How many generated requests each endpoint got, and which statuses came back (per process, merged at the end)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    """Counts of (endpoint, variant, status); a variant says how the request was sent (signed, keyless...)."""

    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def add(self, endpoint: str, variant: str, status: int) -> None:
        self.counts[(endpoint, variant, status)] += 1

    def to_json(self) -> str:
        return json.dumps([[*key, n] for key, n in sorted(self.counts.items())])

    def summary(self) -> dict[str, Any]:
        """Per endpoint: cases, statuses, and statuses per variant."""
        out: dict[str, Any] = defaultdict(lambda: {"cases": 0, "statuses": Counter(), "variants": {}})
        for (endpoint, variant, status), n in sorted(self.counts.items()):
            entry = out[endpoint]
            entry["cases"] += n
            entry["statuses"][str(status)] += n
            entry["variants"].setdefault(variant, Counter())[str(status)] += n
        return {endpoint: {**entry, "statuses": dict(entry["statuses"])} for endpoint, entry in out.items()}


TALLY = Tally()


def merge(into: Tally, text: str) -> None:
    """Add a worker's counts (from `to_json`)."""
    for endpoint, variant, status, n in json.loads(text):
        into.counts[(endpoint, variant, int(status))] += int(n)


def render(tally: Tally) -> list[str]:
    """Lines for the terminal: one per endpoint, then its variants."""
    summary = tally.summary()
    lines = []
    for endpoint, entry in sorted(summary.items()):
        statuses = " ".join(f"{s}:{n}" for s, n in sorted(entry["statuses"].items()))
        lines.append(f"{endpoint}  cases={entry['cases']}  {statuses}")
        for variant, counts in sorted(entry["variants"].items()):
            lines.append(f"    {variant:<22} " + " ".join(f"{s}:{n}" for s, n in sorted(counts.items())))
    total = sum(entry["cases"] for entry in summary.values())
    fives = sum(n for (_, _, status), n in tally.counts.items() if status >= 500)
    lines.append(f"total cases={total}  5xx={fives}")
    return lines
