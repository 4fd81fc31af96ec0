"""Card feedback (CDS Hooks 2.0 ``/cds-services/{id}/feedback``): checked, recorded, counted.

Every item is appended to a JSON-lines file and fsynced before the call is answered, so an
acknowledged item is never lost; an item the store cannot keep fails the call (the client can
send it again). The same item sent twice is recorded once. Logs carry outcome and reason code,
never the clinician's comment. The file holds clinicians' comments about patients: it is ``0600``
and a directory created for it ``0700``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fhir_resist.errors import FeedbackError
from fhir_resist.fhir.state_files import PRIVATE_FILE, private_directory

log = logging.getLogger("fhir_resist.feedback")
JSON = dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Coding(_Model):
    system: str | None = None
    code: str
    display: str | None = None


class OverrideReason(_Model):
    reason: Coding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _something(self) -> OverrideReason:
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment")
        return self


class Accepted(_Model):
    id: str


class Feedback(_Model):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[Accepted, ...] = ()
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted card names its acceptedSuggestions")
        return self


class FeedbackRequest(_Model):
    feedback: tuple[Feedback, ...] = Field(min_length=1)


def parse(body: Any) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise FeedbackError(f"{where}: {first['msg']}") from None


@dataclass(frozen=True, slots=True)
class Recorded:
    new: int
    repeated: int


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self._seen.add(json.loads(line)["key"])
                except (ValueError, KeyError, TypeError):
                    continue

    def record(self, service: str, request: FeedbackRequest) -> Recorded:
        new = repeated = 0
        lines: list[str] = []
        with self._lock:
            for item in request.feedback:
                data = item.model_dump(mode="json", exclude_none=True)
                key = hashlib.sha256(json.dumps([service, data], sort_keys=True).encode()).hexdigest()
                if key in self._seen:
                    repeated += 1
                    continue
                received = datetime.now(UTC).isoformat(timespec="seconds")
                lines.append(
                    json.dumps({"key": key, "received": received, "service": service, "feedback": data})
                )
            if lines:
                private_directory(self.path.parent)
                handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
                with open(handle, "a", encoding="utf-8") as out:
                    if os.name == "posix":  # a file an earlier version made readable to others
                        os.fchmod(out.fileno(), PRIVATE_FILE)
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                for line in lines:
                    self._seen.add(json.loads(line)["key"])
                    new += 1
        for item in request.feedback:
            reason = (
                item.overrideReason.reason.code if item.overrideReason and item.overrideReason.reason else "-"
            )
            log.info("feedback service=%s outcome=%s reason=%s", service, item.outcome, reason)
        return Recorded(new, repeated)

    def items(self) -> list[JSON]:
        if not self.path.exists():
            return []
        return [
            json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
