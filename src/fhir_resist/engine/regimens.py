"""Regimens: the drugs a patient is given together, formed from the therapies in the input.

Clinicians prescribe regimens (encorafenib + cetuximab, dabrafenib + trametinib), and whether a
resistance finding applies can depend on the partner. Therapies belong to one regimen when

- both are current at the evaluation time (given now, or being ordered: an order being signed
  joins what the patient is on),
- they share a request, plan or group (``basedOn`` / ``partOf`` a CarePlan, RequestGroup or
  parent request, one ``groupIdentifier``), or one is based on the other, or
- their dated periods overlap (an open-ended course runs to the evaluation time).

Pure: therapies in, regimens out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fhir_resist.domain import Therapy

Resolved = tuple[tuple[Therapy, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Regimen:
    """Therapies given together, with the catalogue drugs they contain."""

    therapies: tuple[Therapy, ...]
    drugs: tuple[str, ...]  # catalogue drug ids, in therapy order
    current: bool  # given now or being ordered
    start: date | None
    end: date | None  # None: ongoing, or not known

    @property
    def label(self) -> str:
        return " + ".join(t.label for t in self.therapies)

    def includes(self, therapy: Therapy) -> bool:
        return any(t.source == therapy.source for t in self.therapies)


def form_regimens(current: Resolved, past: Resolved, today: date) -> tuple[Regimen, ...]:
    """The patient's regimens: current and ordered therapies form one; past ones group as they overlap."""
    items = [(t, d, True) for t, d in current] + [(t, d, False) for t, d in past]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    owner: dict[str, int] = {}
    for i, (therapy, _, _) in enumerate(items):
        for key in (therapy.source, *therapy.groups):
            if key in owner:
                join(i, owner[key])
            else:
                owner[key] = i
    for i, (a, _, a_now) in enumerate(items):
        for j in range(i):
            b, _, b_now = items[j]
            if (a_now and b_now) or _overlap(a, b, today):
                join(i, j)

    grouped: dict[int, list[int]] = {}
    for i in range(len(items)):
        grouped.setdefault(find(i), []).append(i)
    regimens = []
    for members in grouped.values():
        therapies = tuple(items[i][0] for i in members)
        drugs = tuple(dict.fromkeys(d for i in members for d in items[i][1]))
        starts = [t.start for t in therapies if t.start is not None and not t.proposed]
        ends = [t.end for t in therapies]
        is_current = any(items[i][2] for i in members)
        regimens.append(
            Regimen(
                therapies=therapies,
                drugs=drugs,
                current=is_current,
                start=min(starts) if starts else None,
                end=None if is_current or any(e is None for e in ends) else max(e for e in ends if e),
            )
        )
    return tuple(sorted(regimens, key=lambda r: (r.current, r.start or date.min, r.therapies[0].source)))


def regimen_of(therapy: Therapy, regimens: tuple[Regimen, ...]) -> Regimen | None:
    return next((r for r in regimens if r.includes(therapy)), None)


def _overlap(a: Therapy, b: Therapy, today: date) -> bool:
    """Both dated and their periods overlap (a course with no end runs to ``today``). Started the
    same day is together; one starting the day the other stops is a switch, not a combination."""
    if a.start is None or b.start is None or a.proposed or b.proposed:
        return False
    if a.start == b.start:
        return True
    return a.start < (b.end or today) and b.start < (a.end or today)
