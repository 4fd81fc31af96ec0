"""Rechallenge: giving a drug class again after acquired resistance to it has cleared.

Judged only where the patient stopped a drug the rule covers, the resistance was acquired on it
(absent before, present after the start) and no drug of the class is given now. Then:

- offered: the resistance alteration and every other resistance finding against that class are
  not detected in the latest adequate sample (tissue, or plasma at an adequate tumour fraction)
  and the drug-free interval reaches the catalogue's parameter;
- conditional: the same, but a negative plasma result has an unknown tumour fraction: offered
  with its evidence and the tumour fraction / retest as the data requirement;
- withheld, with the reason said plainly: an alteration still detected, the interval not reached,
  no sample since the drug was stopped, the stop date unknown, or a negative plasma sample whose
  tumour fraction is known and too low to show the clone has gone (undetermined).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Effect, Strategy
from fhir_resist.domain import Call, Message, Severity, Therapy
from fhir_resist.engine.longitudinal import ADEQUATE_TUMOUR_FRACTION
from fhir_resist.engine.model import DataRequirement, Finding, Offer, Recommendation, TimingCall
from fhir_resist.engine.requirements import CTDNA_BEFORE_RECHALLENGE, CTDNA_TUMOUR_FRACTION
from fhir_resist.engine.timing import timing_for

Resolved = tuple[tuple[Therapy, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class RechallengeResult:
    recommendations: tuple[Recommendation, ...]  # offered or conditional
    withheld: tuple[Recommendation, ...]
    messages: tuple[Message, ...]
    requirements: tuple[DataRequirement, ...]


def rechallenges(
    findings: tuple[Finding, ...], past: Resolved, current: Resolved, catalogue: Catalogue, today: date
) -> RechallengeResult:
    recommendations: list[Recommendation] = []
    withheld: list[Recommendation] = []
    messages: list[Message] = []
    requirements: dict[str, DataRequirement] = {}
    taking = {drug for _, drugs in current for drug in drugs}
    adequate = catalogue.parameter(ADEQUATE_TUMOUR_FRACTION)
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
            base = Recommendation(cm, (rule.id,), (f"{finding.trigger.label} acquired on {therapy.label}",))

            def withhold(why: str, rec: Recommendation = base) -> None:
                withheld.append(replace(rec, offer=Offer.WITHHELD, why=(why,)))

            latest = finding.history.latest
            if therapy.end is not None and (latest.when is None or latest.when <= therapy.end):
                need = DataRequirement(
                    CTDNA_BEFORE_RECHALLENGE,
                    "ctDNA (RAS, BRAF V600E, EGFR extracellular domain) before any rechallenge",
                    f"no sample after {therapy.label} was stopped on {therapy.end.isoformat()}; "
                    f"{finding.trigger.label} was last seen on it",
                )
                requirements[CTDNA_BEFORE_RECHALLENGE] = need
                withhold(f"undetermined: no sample since {therapy.label} was stopped")
                continue
            against = [
                f
                for f in findings
                if f.rule.effect is Effect.RESISTANCE and catalogue.members(f.rule.therapies) & offered
            ]
            seen = sorted({f.trigger.label for f in against if f.history.latest.call is Call.PRESENT})
            if seen:
                withhold(f"{', '.join(seen)} still detected in the latest sample")
                continue
            unproven = [f for f in against if not f.history.cleared]
            low = [f for f in unproven if f.history.latest.tumour_fraction is not None]
            if low:
                sample = low[0].history.latest
                withhold(
                    f"undetermined: {', '.join(sorted({f.trigger.label for f in low}))} not detected in "
                    f"plasma of {sample.when.isoformat() if sample.when else 'unknown date'} at tumour "
                    f"fraction {sample.tumour_fraction:g}, below the {adequate:g} needed to show it is "
                    "gone; retest (tissue, or plasma at adequate tumour fraction) before deciding"
                )
                continue
            if therapy.end is None:
                messages.append(
                    Message(
                        Severity.WARNING,
                        f"{therapy.source}.effective[x]",
                        "the date the drug was stopped is unknown; a rechallenge interval cannot be judged",
                    )
                )
                withhold(f"undetermined: the date {therapy.label} was stopped is unknown")
                continue
            parameter = catalogue.meta.parameters[cm.interval_parameter or ""]
            waited = (today - therapy.end).days
            if waited < parameter.value:
                withhold(
                    f"not yet: {waited} days since the last dose, the catalogue asks for at least "
                    f"{parameter.value:g}"
                )
                continue
            when = latest.when.isoformat() if latest.when else "an undated sample"
            reason = (
                f"{finding.trigger.label} acquired on {therapy.label}, not detected in the "
                f"latest sample ({when}); {waited} days without it"
            )
            rec = replace(base, reasons=(reason,))
            if unproven:
                labels = ", ".join(sorted({f.trigger.label for f in unproven}))
                need = DataRequirement(
                    CTDNA_TUMOUR_FRACTION,
                    "Tumour fraction of the latest plasma sample, or a tissue retest",
                    f"{labels} not detected in plasma of unknown tumour fraction: rechallenge is an "
                    "option only if the sample had enough tumour DNA to show the clone has gone",
                )
                rec = replace(
                    rec,
                    offer=Offer.CONDITIONAL,
                    why=(f"the latest plasma sample has a tumour fraction of at least {adequate:g}",),
                    needs=(need,),
                )
            recommendations.append(rec)
    return RechallengeResult(
        tuple(recommendations), tuple(withheld), tuple(messages), tuple(requirements.values())
    )
