"""The service's counters, rendered in Prometheus text format (``GET /metrics``).

Counters carry service ids, statuses, outcomes and card indicators; never patient data. They are
kept in the shared state (``shared_state``), so with ``serve --workers N`` every process counts
into, and renders, the same numbers. A counter that cannot be stored (the state file unusable)
is logged and skipped: the call it counts is answered regardless.
"""

from __future__ import annotations

import logging
import sqlite3

from fhir_resist.cdshooks.shared_state import SharedState

log = logging.getLogger("fhir_resist.service")


class Metrics:
    def __init__(self, state: SharedState | None = None) -> None:
        self._state = state if state is not None else SharedState()

    def inc(self, name: str, **labels: str) -> None:
        self.inc_all([(name, labels)])

    def inc_all(self, counters: list[tuple[str, dict[str, str]]]) -> None:
        """Each counter (name, labels) counted once, stored together (one write for a call's
        counters); counters named twice are counted twice."""
        try:
            self._state.add_all([(name, _labels(labels), 1) for name, labels in counters])
        except sqlite3.Error as exc:
            names = sorted({name for name, _ in counters})
            log.error("counter%s %s not stored: %s", "s" if len(names) > 1 else "", ", ".join(names), exc)

    def value(self, name: str, **labels: str) -> int:
        wanted = _labels(labels)
        return sum(v for n, lbl, v in self._state.counts() if (n, lbl) == (name, wanted))

    def render(self) -> str:
        lines = [
            f"fhir_resist_{name}_total{{{labels}}} {count}" for name, labels, count in self._state.counts()
        ]
        return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    """The labels as Prometheus writes them, sorted by name, values escaped."""
    return ",".join(f'{k}="{_escaped(v)}"' for k, v in sorted(labels.items()))


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
