"""Implications: what the findings mean for each drug class and drug, whether or not the patient takes it."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.engine.findings import LEVEL_ORDER
from fhir_resist.engine.model import Finding, Implication


def implications_of(findings: tuple[Finding, ...], catalogue: Catalogue) -> tuple[Implication, ...]:
    """Per drug class or drug a rule names, and effect: the rules, best evidence and observations.
    A rule about some daily doses of its drug implies nothing of the others: its implication is
    named with the doses (``imatinib below 800 mg/day``)."""
    grouped: dict[tuple[str, str, str, float], list[Finding]] = {}
    for finding in findings:
        scope = finding.rule.therapies
        below = scope.daily_dose.below_mg if scope.daily_dose is not None else 0.0
        targets = [(c, "class") for c in scope.classes] + [(d, "drug") for d in scope.drugs]
        for target, kind in targets:
            grouped.setdefault((target, kind, finding.rule.effect.value, below), []).append(finding)
    out: list[Implication] = []
    for (target, kind, effect, below), group in sorted(grouped.items()):
        name = catalogue.classes[target].name if kind == "class" else catalogue.drugs[target].name
        if below:
            name = f"{name} below {below:g} mg/day"
        best = min((f.rule.evidence.level for f in group), key=lambda lvl: LEVEL_ORDER[lvl])
        out.append(
            Implication(
                target=target,
                target_kind=kind,
                name=name,
                effect=effect,
                rule_ids=tuple(dict.fromkeys(f.rule.id for f in group)),
                evidence_level=best.value,
                observations=tuple(dict.fromkeys(o for f in group for o in f.observations)),
            )
        )
    return tuple(out)
