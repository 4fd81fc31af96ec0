"""Rechallenge: giving a drug class again after acquired resistance to it has cleared.

Proposed only when every condition of the catalogue's rechallenge countermeasure can be checked:
the patient stopped a drug the rule covers, the resistance was acquired on it (absent before,
present after the start), the resistance alteration and every other resistance finding against
that class are no longer detected in the latest adequate sample, no drug of the class is being
given now, and the drug-free interval reaches the catalogue's parameter. A negative plasma result
at unknown or low tumour fraction does not count as cleared (a data requirement says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Effect, Strategy
from fhir_resist.domain import Message, Severity, Therapy
from fhir_resist.engine.model import DataRequirement, Finding, Recommendation, TimingCall
from fhir_resist.engine.requirements import CTDNA_BEFORE_RECHALLENGE
from fhir_resist.engine.timing import timing_for

Resolved = tuple[tuple[Therapy, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class RechallengeResult:
    recommendations: tuple[Recommendation, ...]
    messages: tuple[Message, ...]
    requirements: tuple[DataRequirement, ...]


def rechallenges(
    findings: tuple[Finding, ...], past: Resolved, current: Resolved, catalogue: Catalogue, today: date
) -> RechallengeResult:
    recommendations: list[Recommendation] = []
    messages: list[Message] = []
    requirements: dict[str, DataRequirement] = {}
    taking = {drug for _, drugs in current for drug in drugs}
    for finding in findings:
        rule = finding.rule
        for cm in rule.countermeasures:
            if cm.strategy is not Strategy.RECHALLENGE or cm.outcome != "recommended":
                continue
            offered = set(cm.drugs) | {d for c in cm.classes for d in catalogue.class_members(c)}
            covered = catalogue.members(rule.therapies)
            stopped = [(t, d) for t, d in past if set(d) & covered]
            if not stopped or taking & offered:
                continue
            therapy = max(stopped, key=lambda item: item[0].end or item[0].start or date.min)[0]
            timing, _ = timing_for(finding, therapy)
            if timing is not TimingCall.ACQUIRED:
                continue
            latest = finding.history.latest
            if therapy.end is not None and (latest.when is None or latest.when <= therapy.end):
                requirements[CTDNA_BEFORE_RECHALLENGE] = DataRequirement(
                    CTDNA_BEFORE_RECHALLENGE,
                    "ctDNA (RAS, BRAF V600E, EGFR extracellular domain) before any rechallenge",
                    f"no sample after {therapy.label} was stopped on {therapy.end.isoformat()}; "
                    f"{finding.trigger.label} was last seen on it",
                )
                continue
            blocking = [
                f.trigger.label
                for f in findings
                if f.rule.effect is Effect.RESISTANCE
                and catalogue.members(f.rule.therapies) & offered
                and not f.history.cleared
            ]
            if blocking:
                messages.append(
                    Message(
                        Severity.INFORMATION,
                        finding.trigger.source,
                        f"rechallenge not proposed: {', '.join(sorted(set(blocking)))} "
                        "still detected or not ruled out in the latest sample",
                    )
                )
                continue
            if therapy.end is None:
                messages.append(
                    Message(
                        Severity.WARNING,
                        f"{therapy.source}.effective[x]",
                        "rechallenge not proposed: the date the drug was stopped is unknown",
                    )
                )
                continue
            parameter = catalogue.meta.parameters[cm.interval_parameter or ""]
            waited = (today - therapy.end).days
            if waited < parameter.value:
                messages.append(
                    Message(
                        Severity.INFORMATION,
                        therapy.source,
                        f"rechallenge not yet: {waited} days since the last dose, "
                        f"the catalogue asks for at least {parameter.value:g}",
                    )
                )
                continue
            when = latest.when.isoformat() if latest.when else "an undated sample"
            recommendations.append(
                Recommendation(
                    cm,
                    (rule.id,),
                    (
                        f"{finding.trigger.label} acquired on {therapy.label}, not detected in the "
                        f"latest sample ({when}); {waited} days without it",
                    ),
                )
            )
    return RechallengeResult(tuple(recommendations), tuple(messages), tuple(requirements.values()))
