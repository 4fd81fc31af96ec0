"""The service's counters, rendered in Prometheus text format (``GET /metrics``).

Counters carry service ids, statuses, outcomes and card indicators; never patient data.
"""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._lock = threading.Lock()

    def inc(self, name: str, **labels: str) -> None:
        with self._lock:
            self._counts[(name, tuple(sorted(labels.items())))] += 1

    def value(self, name: str, **labels: str) -> int:
        return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        with self._lock:
            lines = []
            for (name, labels), count in sorted(self._counts.items()):
                label = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"fhir_resist_{name}_total{{{label}}} {count}")
        return "\n".join(lines) + "\n"
