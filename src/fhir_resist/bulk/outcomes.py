"""The export's error files: OperationOutcome NDJSON, counted by severity, the first messages kept.

A server lists in ``error`` what it could not export (HAPI sends none). An issue of severity
``error`` or ``fatal`` means resources are missing from the export; ``warning`` and
``information`` do not. The messages are for the person running the export, never for a log.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_resist.bulk.polling import printable

FIRST = 5  # messages kept


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Issues by severity, lines that were no OperationOutcome, and the first messages."""

    severities: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    messages: tuple[str, ...] = ()

    @property
    def issues(self) -> int:
        return sum(self.severities.values())

    @property
    def missing_resources(self) -> bool:
        """Whether the server says resources could not be exported."""
        return bool(self.severities.get("error") or self.severities.get("fatal") or self.unreadable)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ErrorSummary:
        """The summary as ``as_json`` wrote it (an empty one for None)."""
        data = data or {}
        severities = {str(k): int(v) for k, v in (data.get("severities") or {}).items()}
        return cls(severities, int(data.get("unreadable") or 0), tuple(map(str, data.get("messages") or ())))

    def as_json(self) -> dict[str, Any]:
        return {
            "severities": dict(self.severities),
            "unreadable": self.unreadable,
            "messages": list(self.messages),
        }


def summarise(paths: Iterable[Path]) -> ErrorSummary:
    """What the error files say, one line at a time."""
    severities: Counter[str] = Counter()
    unreadable = 0
    messages: list[str] = []
    for path in paths:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                outcome = _outcome(line)
                if outcome is None:
                    unreadable += 1
                    _keep(messages, f"{path.name}:{number}: not an OperationOutcome")
                    continue
                for issue in outcome.get("issue") or [{}]:
                    issue = issue if isinstance(issue, dict) else {}
                    severity = str(issue.get("severity") or "error")
                    severities[severity] += 1
                    _keep(messages, f"{severity}: {_text(issue)}")
    return ErrorSummary(dict(severities), unreadable, tuple(messages))


def _outcome(line: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        return data
    return None


def _text(issue: dict[str, Any]) -> str:
    details = issue.get("details")
    for text in (issue.get("diagnostics"), details.get("text") if isinstance(details, dict) else None):
        if isinstance(text, str) and text.strip():
            return printable(text, 300)
    return str(issue.get("code") or "no text")


def _keep(messages: list[str], text: str) -> None:
    if len(messages) < FIRST:
        messages.append(text)
