"""Superseding: a result older than what the server already holds for the patient is never sent.

Each result carries its evaluation time (the GuidanceResponse's ``occurrenceDateTime``). Before
a result is sent, delivery looks for a newer evaluation of the same patient: our
GuidanceResponses on the server (identifier system ``NS_EVALUATION``) and the items of the
patient waiting in the outbox. Every evaluation reads the patient's whole record, so a later one
states everything an earlier one could: sending the earlier one after it would raise again an
alert the later one withdrew, and leave two contradicting GuidanceResponses.

"Newer" is a later evaluation time; at an equal time (an evaluation time given by hand) a
different evaluation is newer when it was written (``meta.lastUpdated``) or queued (``created``)
after this one was queued. Re-sending the same evaluation is never superseded by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_resist import terminology
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox, Scope

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An evaluation of the patient: its id, its time, and when it was written or queued."""

    key: str
    evaluated: str
    stamp: str  # when it reached the server (meta.lastUpdated) or the outbox (created)
    where: str  # "on the server" or "waiting in the outbox"


@dataclass(frozen=True, slots=True)
class Newer:
    """Why a result is superseded: the newer evaluation and where it is."""

    key: str
    evaluated: str
    where: str

    def __str__(self) -> str:
        return f"superseded by evaluation {self.key} of {self.evaluated} {self.where}"


def instant(text: str) -> datetime | None:
    """A FHIR dateTime as an aware datetime (UTC when it names no zone); None when it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_newer(other: Candidate, key: str, evaluated: str, stamp: str) -> bool:
    """Whether ``other`` is newer than evaluation ``key`` (made at ``evaluated``, queued at ``stamp``)."""
    theirs, ours = instant(other.evaluated), instant(evaluated)
    if theirs is None or ours is None:
        return False  # an evaluation of unknown time supersedes nothing and is superseded by nothing
    if theirs != ours:
        return theirs > ours
    if other.key == key:
        return False
    their_stamp, our_stamp = instant(other.stamp), instant(stamp)
    return their_stamp is not None and our_stamp is not None and their_stamp > our_stamp


def newest(candidates: list[Candidate], key: str, evaluated: str, stamp: str) -> Newer | None:
    """The newest of the ``candidates`` newer than evaluation ``key``, if any."""
    newer = [c for c in candidates if is_newer(c, key, evaluated, stamp)]
    if not newer:
        return None
    best = max(newer, key=lambda c: (instant(c.evaluated), instant(c.stamp) or instant(c.evaluated)))
    return Newer(best.key, best.evaluated, best.where)


def in_outbox(outbox: Outbox, server: str, scope: Scope, key: str) -> list[Candidate]:
    """The patient's other results waiting in the outbox (not those already superseded)."""
    return [
        Candidate(item.key, item.evaluated, item.created, "waiting in the outbox")
        for item in outbox.of_patient(server, scope, key)
        if item.key != key and item.state != "superseded"
    ]


def on_server(client: FhirClient, patient: str) -> list[Candidate]:
    """Our GuidanceResponses about ``patient`` on the server (raises ``ServerError``)."""
    found = client.search(
        "GuidanceResponse", [("subject", patient), ("identifier", f"{terminology.NS_EVALUATION}|")]
    )
    out = []
    for resource in found:
        if (
            resource.get("resourceType") != "GuidanceResponse"
            or (resource.get("subject") or {}).get("reference") != patient
        ):
            continue
        keys = [
            i.get("value")
            for i in resource.get("identifier") or []
            if isinstance(i, dict) and i.get("system") == terminology.NS_EVALUATION
        ]
        evaluated = resource.get("occurrenceDateTime")
        if keys and isinstance(keys[0], str) and isinstance(evaluated, str):
            stamp = (resource.get("meta") or {}).get("lastUpdated")
            out.append(
                Candidate(keys[0], evaluated, stamp if isinstance(stamp, str) else "", "on the server")
            )
    return out
