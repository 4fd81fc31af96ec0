"""Countermeasures: the catalogue's recommendations for the findings, one per option however many
rules offer it, each decided offered, conditional or withheld from the patient's facts."""

from __future__ import annotations

from dataclasses import replace

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, Effect, Strategy
from fhir_resist.engine.conditions import Facts, Outcome, judge
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.findings import FAILS, LEVEL_ORDER, spared_by
from fhir_resist.engine.match import fits
from fhir_resist.engine.model import Finding, Issue, Offer, Recommendation, TimingCall


def recommendations(findings: tuple[Finding, ...], catalogue: Catalogue) -> tuple[Recommendation, ...]:
    """The recommended countermeasures of the findings that predict failure, best evidence first."""
    merged: dict[tuple[object, ...], Recommendation] = {}
    order: list[tuple[int, int, tuple[object, ...]]] = []
    for finding in findings:
        if finding.rule.effect not in FAILS:
            continue
        trigger = finding.trigger
        for index, cm in enumerate(finding.rule.countermeasures):
            if cm.outcome != "recommended":
                continue
            if cm.only_if and not any(
                fits(p, trigger, trigger.gene, catalogue.genes.get(trigger.gene or "")) for p in cm.only_if
            ):
                continue
            rec = Recommendation(cm, (finding.rule.id,), (trigger.label,))
            key: tuple[object, ...] = rec.key
            if key in merged:
                old = merged[key]
                merged[key] = Recommendation(
                    _joined(old.countermeasure, cm),
                    tuple(dict.fromkeys((*old.rule_ids, finding.rule.id))),
                    tuple(dict.fromkeys((*old.reasons, trigger.label))),
                )
            else:
                merged[key] = rec
                order.append((LEVEL_ORDER[cm.evidence.level], len(order) * 100 + index, key))
    return tuple(merged[key] for _, _, key in sorted(order))


def _joined(first: Countermeasure, other: Countermeasure) -> Countermeasure:
    """One countermeasure offered by two rules: every condition of both must hold (a rule that
    rules the option out for this patient is never overridden by one that does not say so)."""
    extra = [c for c in other.requires if c not in first.requires]
    if not extra:
        return first
    wording = "; ".join(dict.fromkeys(filter(None, (first.condition, other.condition))))
    return first.model_copy(update={"requires": (*first.requires, *extra), "condition": wording or None})


def patient_countermeasures(
    candidates: tuple[Recommendation, ...],
    issues: tuple[Issue, ...],
    findings: tuple[Finding, ...],
    facts: Facts,
) -> tuple[list[Recommendation], list[Recommendation]]:
    """The countermeasures for the whole patient, offered or conditional, and those withheld.

    One that an issue offers keeps the issue's verdict; the others are judged against every
    finding. Rechallenge is judged separately (it needs the therapy history).
    """
    in_issues = {r.key: r for issue in issues for r in issue.countermeasures}
    current = tuple(d for r in facts.regimens if r.current for d in r.drugs)
    proposed: list[Recommendation] = []
    withheld: list[Recommendation] = []
    for rec in candidates:
        if rec.countermeasure.strategy is Strategy.RECHALLENGE:
            continue
        timings = {i.timing for i in issues if i.finding.rule.id in rec.rule_ids}
        timing = next((t for t in (TimingCall.ACQUIRED, TimingCall.PRIMARY) if t in timings), None)
        decided = in_issues.get(rec.key) or decide(
            rec, findings, facts, timing, exclude=None, current=current
        )
        (withheld if decided.offer is Offer.WITHHELD else proposed).append(decided)
    return proposed, withheld


def decide(
    rec: Recommendation,
    findings: tuple[Finding, ...],
    facts: Facts,
    timing: TimingCall | None,
    *,
    exclude: Finding | None,
    current: tuple[str, ...],
) -> Recommendation:
    """Offered, conditional or withheld, from the findings, the current regimen and the conditions."""
    cm = rec.countermeasure
    catalogue = facts.catalogue
    clashes = _fails_for(rec, findings, catalogue, exclude)
    if clashes:
        labels = sorted({f.trigger.label for f in findings if f.rule.id in clashes})
        return replace(
            rec,
            offer=Offer.WITHHELD,
            why=(f"predicted to fail: {', '.join(labels)} ({', '.join(clashes)})",),
        )
    if cm.strategy in {Strategy.SWITCH, Strategy.COMBINE} and cm.drugs and set(cm.drugs) <= set(current):
        return replace(
            rec,
            offer=Offer.WITHHELD,
            why=(f"the patient is receiving it now ({drug_names(cm.drugs, catalogue)})",),
        )
    verdicts = [judge(c, facts, timing) for c in cm.requires]
    failed = [v.text for v in verdicts if v.outcome is Outcome.NOT_MET]
    if failed:
        return replace(rec, offer=Offer.WITHHELD, why=tuple(failed))
    unknown = [v for v in verdicts if v.outcome is Outcome.UNKNOWN]
    if unknown:
        return replace(
            rec,
            offer=Offer.CONDITIONAL,
            why=tuple(v.text for v in unknown),
            needs=tuple(v.need for v in unknown if v.need is not None),
        )
    return replace(rec, offer=Offer.OFFERED, why=tuple(v.text for v in verdicts))


def _fails_for(
    rec: Recommendation, findings: tuple[Finding, ...], catalogue: Catalogue, exclude: Finding | None = None
) -> tuple[str, ...]:
    """Rules among this patient's findings that predict a drug of the proposal will fail."""
    cm = rec.countermeasure
    offered = set(cm.drugs) | {d for c in cm.classes for d in catalogue.class_members(c)}
    if not offered:
        return ()
    clashes: list[str] = []
    for finding in findings:
        if finding is exclude or finding.rule.effect is not Effect.RESISTANCE:
            continue
        # A combination built to overcome this very finding (e.g. BRAF + anti-EGFR) is not refuted by it.
        if finding.rule.id in rec.rule_ids and cm.strategy is Strategy.COMBINE:
            continue
        hit = offered & catalogue.members(finding.rule.therapies)
        # Nor is a combination that carries the partner the finding's rule names (its resistance
        # does not apply to that regimen).
        if hit and cm.strategy is Strategy.COMBINE and spared_by(finding, cm.drugs, catalogue) is not None:
            continue
        if hit:
            clashes.append(finding.rule.id)
    return tuple(clashes)
