"""What changed for one patient between the last result written and the new one (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fhir_resist.reevaluation.alerts import Alert, AlertKey

# first: no earlier result of the patient was found; changed / unchanged: compared with it.
Status = Literal["first", "changed", "unchanged"]


@dataclass(frozen=True, slots=True)
class Change:
    """One patient's alerts compared: each list holds alert keys, sorted."""

    status: Status
    new: tuple[AlertKey, ...] = ()
    withdrawn: tuple[AlertKey, ...] = ()
    severity_changed: tuple[tuple[AlertKey, str, str], ...] = ()  # key, before, after
    countermeasures_changed: tuple[AlertKey, ...] = ()
    unchanged: tuple[AlertKey, ...] = ()
    alerts: int = 0  # alerts in force in the new result

    def described(self) -> str:
        """The changes in words, one clause each ("" when nothing changed)."""
        parts = [f"new: {key}" for key in self.new]
        parts += [f"withdrawn: {key}" for key in self.withdrawn]
        parts += [f"severity {before} -> {after}: {key}" for key, before, after in self.severity_changed]
        parts += [f"countermeasures changed: {key}" for key in self.countermeasures_changed]
        return "; ".join(parts)


def compare(before: Mapping[AlertKey, Alert] | None, after: Mapping[AlertKey, Alert]) -> Change:
    """``after`` against ``before`` (None: no earlier result; every alert is new)."""
    if before is None:
        return Change("first", new=tuple(sorted(after)), alerts=len(after))
    new = tuple(sorted(k for k in after if k not in before))
    withdrawn = tuple(sorted(k for k in before if k not in after))
    kept = sorted(k for k in after if k in before)
    severity = tuple(
        (k, before[k].severity, after[k].severity) for k in kept if before[k].severity != after[k].severity
    )
    measures = tuple(k for k in kept if before[k].countermeasures != after[k].countermeasures)
    unchanged = tuple(
        k
        for k in kept
        if before[k].severity == after[k].severity and before[k].countermeasures == after[k].countermeasures
    )
    changed = bool(new or withdrawn or severity or measures)
    return Change(
        "changed" if changed else "unchanged", new, withdrawn, severity, measures, unchanged, len(after)
    )
