"""The assessment: a pure function from a patient's context and the catalogue to the answer.

No I/O, no clock (``at`` is a parameter), and no exception on clinical content: anything
that cannot be used becomes a message or a data requirement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, Effect, EvidenceLevel, Rule, Strategy
from fhir_resist.domain import (
    Alteration,
    Call,
    CnvCall,
    Kind,
    Message,
    PatientContext,
    Severity,
    SpecimenType,
    Therapy,
)
from fhir_resist.engine import explain, lab
from fhir_resist.engine.conditions import Facts, Outcome, judge
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.longitudinal import ADEQUATE_TUMOUR_FRACTION, history, sample_date
from fhir_resist.engine.match import fits, locus_key
from fhir_resist.engine.model import (
    Assessment,
    DataRequirement,
    Finding,
    Implication,
    Issue,
    IssueSeverity,
    Offer,
    Recommendation,
    RegimenException,
    Status,
    TimingCall,
)
from fhir_resist.engine.rechallenge import rechallenges
from fhir_resist.engine.regimens import Regimen, Resolved, form_regimens, regimen_of
from fhir_resist.engine.requirements import data_requirements
from fhir_resist.engine.timing import timing_for

_FAILS = frozenset({Effect.RESISTANCE, Effect.REDUCED_RESPONSE})
_CURRENT_STATUS = frozenset({"active", "on-hold", "draft", "intended", "in-progress", "unknown"})
_LEVEL_ORDER = {EvidenceLevel.A: 0, EvidenceLevel.B: 1, EvidenceLevel.C: 2, EvidenceLevel.D: 3}
_SEVERITY_STEPS = (IssueSeverity.HIGH, IssueSeverity.MODERATE, IssueSeverity.LOW)
_BASE_SEVERITY = {EvidenceLevel.A: 0, EvidenceLevel.B: 0, EvidenceLevel.C: 1, EvidenceLevel.D: 2}
SUBCLONAL_TISSUE_VAF = "subclonal-tissue-vaf"
RECENT_ADMINISTRATION = "recent-administration-days"
AMPLIFICATION = "amplification-min-copies"


def assess(context: PatientContext, catalogue: Catalogue, at: datetime) -> Assessment:
    """Everything the catalogue says about this patient's findings and therapies at ``at``."""
    messages: list[Message] = list(context.messages)
    alterations = tuple(_resolve_gene(a, catalogue) for a in context.alterations)
    messages += _gene_conflicts(context.alterations, catalogue)
    tumour = _tumour(context, catalogue, messages)
    findings = _findings(context, alterations, tumour, catalogue)
    _note_unmatched_variants([a for a in alterations if a.call is Call.PRESENT], findings, messages)

    resolved = _therapies(context, catalogue, messages)
    recent = catalogue.parameter(RECENT_ADMINISTRATION)
    therapies = tuple(item for item in resolved if _is_current(item[0], at.date(), recent))
    past = tuple(item for item in resolved if not _is_current(item[0], at.date(), recent))
    regimens = form_regimens(therapies, past, at.date())
    facts = Facts(
        catalogue,
        tumour,
        tuple(a for a in alterations if a.call is Call.PRESENT),
        tuple(a for a in alterations if a.call is Call.ABSENT),
        regimens,
    )
    candidates = _recommendations(findings, catalogue)
    issues, exceptions = _issues(context, findings, therapies, past, regimens, candidates, facts)
    rechallenge = rechallenges(findings, past, therapies, catalogue, at.date())
    messages += rechallenge.messages
    messages += lab.compare(context.lab_implications, findings, catalogue)
    implications = _implications(findings, catalogue)
    acquired = frozenset(d for issue in issues if issue.timing is TimingCall.ACQUIRED for d in issue.drugs)
    proposed, withheld = _patient_countermeasures(candidates, issues, findings, facts)
    proposed += rechallenge.recommendations
    withheld += rechallenge.withheld
    needs = _unique_needs(
        (
            *data_requirements(catalogue, tumour, alterations, therapies, findings, acquired),
            *rechallenge.requirements,
            *(need for rec in proposed for need in rec.needs),
        )
    )
    status = Status.DATA_REQUIRED if tumour is None else Status.SUCCESS
    preliminary = any(a.preliminary for f in findings for a in f.alterations) or any(
        r.status == "preliminary" for r in context.reports
    )
    return Assessment(
        patient=context.patient,
        at=at,
        catalogue_version=catalogue.version,
        status=status,
        tumour=tumour,
        tumour_name=catalogue.tumour_name(tumour) if tumour else None,
        findings=findings,
        issues=issues,
        implications=implications,
        countermeasures=tuple(proposed),
        data_requirements=needs,
        messages=tuple(messages),
        inputs=context.inputs,
        reports=tuple(r.source for r in context.reports),
        preliminary=preliminary,
        catalogue=catalogue,
        therapies=tuple(t.source for t in context.therapies),
        report_results=frozenset(r for report in context.reports for r in report.results),
        withheld=tuple(withheld),
        exceptions=exceptions,
        regimens=regimens,
    )


def _unique_needs(needs: Iterable[DataRequirement]) -> tuple[DataRequirement, ...]:
    """One requirement per (code, text); the reasons of repeats are joined."""
    merged: dict[tuple[str, str], DataRequirement] = {}
    for need in needs:
        key = (need.code, need.text)
        old = merged.get(key)
        if old is None:
            merged[key] = need
        elif need.reason not in old.reason:
            merged[key] = replace(old, reason=f"{old.reason}; {need.reason}")
    return tuple(merged.values())


# ------------------------------------------------------------------------- context


def _resolve_gene(alt: Alteration, catalogue: Catalogue) -> Alteration:
    """The current gene symbol, and gains at or above the catalogue's threshold as amplifications."""
    symbol = catalogue.gene_symbol(alt.gene, alt.hgnc_id, alt.transcript)
    partner = catalogue.gene_symbol(alt.partner, None) if alt.partner else None
    cnv = alt.cnv
    if (
        cnv is CnvCall.GAIN
        and alt.copy_number is not None
        and alt.copy_number >= catalogue.parameter(AMPLIFICATION)
    ):
        cnv = CnvCall.AMPLIFICATION
    if symbol == alt.gene and partner == alt.partner and cnv == alt.cnv:
        return alt
    label = alt.label.replace(" gain", " amplification", 1) if cnv is not alt.cnv else alt.label
    if alt.gene is None and symbol is not None and label.startswith("? "):
        label = f"{symbol} {label[2:]}"  # the gene came from the MANE transcript
    return replace(alt, gene=symbol, partner=partner, cnv=cnv, label=label)


def _gene_conflicts(alterations: tuple[Alteration, ...], catalogue: Catalogue) -> list[Message]:
    """An HGNC id and a displayed symbol that name different genes: the id wins, and we say so."""
    out = []
    for alt in alterations:
        by_id = catalogue.gene_symbol(None, alt.hgnc_id) if alt.hgnc_id else None
        by_name = catalogue.gene_symbol(alt.gene, None) if alt.gene else None
        if by_id and by_name and by_id != by_name and by_id != alt.hgnc_id:
            out.append(
                Message(
                    Severity.WARNING,
                    f"{alt.source}.component:gene-studied",
                    f"{alt.hgnc_id} is {by_id} but is displayed as {alt.gene}; read as {by_id}",
                )
            )
    return out


# Where the messages about which cancer type to use point: the Conditions' code, which it comes
# from. A caller that can choose the type (the CLI's --tumour) adds its own hint to these.
CANCER_TYPE = "Condition.code"


def _tumour(context: PatientContext, catalogue: Catalogue, messages: list[Message]) -> str | None:
    if context.tumour_override:
        override = context.tumour_override.upper()
        if override in catalogue.tumours:
            return override
        messages.append(
            Message(
                Severity.ERROR,
                CANCER_TYPE,
                f"the cancer type given in place of Condition.code, '{context.tumour_override}', is not "
                "an OncoTree code in the catalogue; the recorded Conditions are used",
            )
        )
    resolved: dict[str, str] = {}
    rank = {"primary": 0, "unknown": 1, "secondary": 2}
    for tumour in sorted(context.tumours, key=lambda t: (rank.get(t.role, 1), t.source)):
        code = catalogue.resolve_tumour(tumour.codings)
        if code is None:
            messages.append(
                Message(
                    Severity.INFORMATION,
                    f"{tumour.source}.code",
                    "condition is not a cancer type the catalogue knows; not used",
                )
            )
        elif tumour.role != "secondary" or not resolved:  # a metastasis site is not the cancer type
            resolved.setdefault(code, tumour.source)
    if len(resolved) > 1:
        listed = ", ".join(f"{code} ({source})" for code, source in resolved.items())
        messages.append(
            Message(
                Severity.WARNING,
                CANCER_TYPE,
                f"several cancer types are recorded: {listed}; the first is used",
            )
        )
    if resolved:
        return next(iter(resolved))
    if not context.tumours:
        messages.append(
            Message(
                Severity.WARNING,
                "Condition",
                "no cancer diagnosis in the input; tumour-specific rules cannot be applied",
            )
        )
    return None


def _findings(
    context: PatientContext, alterations: tuple[Alteration, ...], tumour: str | None, catalogue: Catalogue
) -> tuple[Finding, ...]:
    """Rules triggered by present alterations; one finding per rule and variant/region, over all samples."""
    present = [a for a in alterations if a.call is Call.PRESENT]
    absent = [a for a in alterations if a.call is Call.ABSENT]
    applicable: dict[str, tuple[tuple[Alteration, ...], bool] | None] = {}
    matched: dict[tuple[str, tuple[object, ...]], list[Alteration]] = {}
    rules: dict[str, Rule] = {}
    for alt in present:
        keys = [f"{alt.kind}:{alt.gene}" if alt.gene else str(alt.kind)]
        if alt.kind is Kind.FUSION and alt.partner:
            keys.append(f"fusion:{alt.partner}")
        # by id: hashing a frozen pydantic Rule hashes its every field, recursively
        for rule in {r.id: r for k in keys for r in catalogue.rules_for(k)}.values():
            if not any(fits(p, alt, alt.gene, catalogue.genes.get(alt.gene or "")) for p in rule.alterations):
                continue
            if rule.id not in applicable:
                applicable[rule.id] = _applicability(rule, present, absent, tumour, catalogue)
            if applicable[rule.id] is not None:
                rules[rule.id] = rule
                matched.setdefault((rule.id, locus_key(alt)), []).append(alt)
    found: list[Finding] = []
    for (rule_id, _), hits in matched.items():
        scope = applicable[rule_id]
        assert scope is not None
        partners, in_scope = scope
        hits.sort(key=lambda a: (sample_date(a, context)[0] or date.min, a.source))
        trigger = hits[-1]
        found.append(
            Finding(
                rules[rule_id],
                (trigger, *hits[:-1], *partners),
                in_scope,
                tumour,
                history(trigger, alterations, context, catalogue.parameter(ADEQUATE_TUMOUR_FRACTION)),
            )
        )
    return tuple(sorted(found, key=lambda f: (f.rule.id, f.trigger.source)))


def _applicability(
    rule: Rule, present: list[Alteration], absent: list[Alteration], tumour: str | None, catalogue: Catalogue
) -> tuple[tuple[Alteration, ...], bool] | None:
    """(co-condition alterations, tumour in the evidence's scope), or None when the rule cannot apply."""
    partners = _co_conditions(rule, present, absent, catalogue)
    if partners is None:
        return None
    if tumour is None:
        return (partners, True) if "ANY" in rule.tumours.include else None
    in_scope = catalogue.tumour_in_scope(tumour, rule.tumours.include)
    if not in_scope and rule.tumours.outside == "exclude":
        return None
    return partners, in_scope


def _co_conditions(
    rule: Rule, present: list[Alteration], absent: list[Alteration], catalogue: Catalogue
) -> tuple[Alteration, ...] | None:
    partners: list[Alteration] = []
    for pattern in rule.requires.all_of:
        hit = next((a for a in present if fits(pattern, a, a.gene, catalogue.genes.get(a.gene or ""))), None)
        if hit is None:
            return None
        partners.append(hit)
    if rule.requires.any_of:
        hit = next(
            (
                a
                for a in present
                for p in rule.requires.any_of
                if fits(p, a, a.gene, catalogue.genes.get(a.gene or ""))
            ),
            None,
        )
        if hit is None:
            return None
        partners.append(hit)
    for pattern in rule.requires.none_of:
        if any(fits(pattern, a, a.gene, catalogue.genes.get(a.gene or "")) for a in present):
            return None
    for pattern in rule.requires.wild_type_tested:
        as_present = [replace(a, call=Call.PRESENT) for a in absent]
        hit = next(
            (a for a in as_present if fits(pattern, a, a.gene, catalogue.genes.get(a.gene or ""))), None
        )
        if hit is None:
            return None
    return tuple(partners)


def _note_unmatched_variants(
    present: list[Alteration], findings: tuple[Finding, ...], messages: list[Message]
) -> None:
    used = {a.source for f in findings for a in f.alterations}
    for alt in present:
        if alt.kind is Kind.VARIANT and alt.source not in used and alt.protein is None and alt.codon is None:
            messages.append(
                Message(
                    Severity.WARNING,
                    alt.source,
                    f"{alt.gene or 'variant'}: no usable protein or coding change; "
                    "not matched against position-specific rules",
                )
            )


# ------------------------------------------------------------------------- therapies


def _is_current(therapy: Therapy, today: date, recent_days: float) -> bool:
    """Given now or proposed: not stopped, completed or ended before today; an administration
    completed within the catalogue's recent window is part of an ongoing course."""
    if therapy.resource_type == "MedicationAdministration" and therapy.status == "completed":
        last = therapy.end or therapy.start
        return last is not None and 0 <= (today - last).days <= recent_days
    return therapy.status in _CURRENT_STATUS and (therapy.end is None or therapy.end >= today)


def _therapies(
    context: PatientContext, catalogue: Catalogue, messages: list[Message]
) -> tuple[tuple[Therapy, tuple[str, ...]], ...]:
    """Every therapy with the catalogue drugs it contains (current and past)."""
    out: list[tuple[Therapy, tuple[str, ...]]] = []
    for therapy in context.therapies:
        drugs = catalogue.resolve_drugs(therapy.codings, therapy.text)
        if not drugs:
            messages.append(
                Message(
                    Severity.INFORMATION,
                    f"{therapy.source}.medication[x]",
                    f"'{therapy.label}' is not a drug the catalogue knows; not assessed",
                )
            )
            continue
        if therapy.status in {"entered-in-error", "not-taken", "cancelled"}:
            continue
        out.append((therapy, drugs))
    return tuple(sorted(out, key=lambda item: item[0].source))


def _issues(
    context: PatientContext,
    findings: tuple[Finding, ...],
    therapies: Resolved,
    past: Resolved,
    regimens: tuple[Regimen, ...],
    candidates: tuple[Recommendation, ...],
    facts: Facts,
) -> tuple[tuple[Issue, ...], tuple[RegimenException, ...]]:
    catalogue = facts.catalogue
    issues: list[Issue] = []
    exceptions: list[RegimenException] = []
    for therapy, drugs in therapies:
        regimen = regimen_of(therapy, regimens)
        together = regimen.drugs if regimen is not None else drugs
        for finding in findings:
            rule = finding.rule
            if rule.effect not in _FAILS:
                continue
            covered = catalogue.members(rule.therapies)
            affected = tuple(d for d in drugs if d in covered)
            if not affected:
                continue
            spared = _spared_by(finding, together, catalogue)
            if spared is not None:
                partners, reason = spared
                exceptions.append(RegimenException(therapy, affected, finding, partners, reason))
                continue
            earlier = _earlier_course(finding, therapy, past, covered)
            if earlier is not None:
                timing, reason = timing_for(finding, earlier)
                reason = f"on an earlier course of {earlier.label}: {reason}"
            else:
                timing, reason = timing_for(finding, therapy)
            decided = (
                _decide(r, findings, facts, timing, exclude=finding, current=together)
                for r in candidates
                if rule.id in r.rule_ids
                and r.countermeasure.strategy is not Strategy.RECHALLENGE  # the drug is being given now
            )
            proposals = tuple(r for r in decided if r.offer is not Offer.WITHHELD)
            severity = _severity(finding, context, catalogue)
            if earlier is not None and finding.history.cleared and _rechallenge_supported(rule):
                # Re-treatment after the acquired clone cleared, where the rule's own evidence
                # supports a rechallenge (catalogue): the clone may re-emerge, but its finding no
                # longer predicts failure.
                severity = IssueSeverity.LOW
            identifier = _identifier(context.patient, rule.id, therapy.source, finding.observations)
            issues.append(
                Issue(
                    identifier=identifier,
                    therapy=therapy,
                    drugs=affected,
                    finding=finding,
                    severity=severity,
                    timing=timing,
                    timing_reason=reason,
                    countermeasures=proposals,
                    detail=explain.issue_sentence(
                        finding, therapy, affected, timing, catalogue, earlier, regimen
                    ),
                )
            )
    return tuple(issues), tuple(exceptions)


def _spared_by(
    finding: Finding, together: tuple[str, ...], catalogue: Catalogue
) -> tuple[tuple[str, ...], str] | None:
    """The partner drugs in the regimen that make the rule's resistance not apply, and why."""
    trigger = finding.trigger
    gene = catalogue.genes.get(trigger.gene or "")
    for partner in finding.rule.therapies.unless_with:
        wanted = set(partner.drugs) | {d for c in partner.classes for d in catalogue.class_members(c)}
        present = tuple(d for d in together if d in wanted)
        if not present:
            continue
        if partner.only_if and not any(fits(p, trigger, trigger.gene, gene) for p in partner.only_if):
            continue
        return present, partner.reason
    return None


def _rechallenge_supported(rule: Rule) -> bool:
    return any(
        cm.strategy is Strategy.RECHALLENGE and cm.outcome == "recommended" for cm in rule.countermeasures
    )


def _earlier_course(
    finding: Finding,
    therapy: Therapy,
    past: Resolved,
    covered: frozenset[str],
) -> Therapy | None:
    """The earlier, stopped course of a drug this rule covers on which the finding was acquired.

    A resistance alteration that emerged on a first course and is found before a second one is
    acquired resistance (from the first), not primary resistance to the second.
    """
    starts = therapy.start if not therapy.proposed else None
    candidates = [
        t
        for t, drugs in past
        if set(drugs) & covered
        and t.end is not None
        and (starts is None or t.end <= starts)
        and timing_for(finding, t)[0] is TimingCall.ACQUIRED
    ]
    return max(candidates, key=lambda t: t.end or date.min) if candidates else None


def _patient_countermeasures(
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
        decided = in_issues.get(rec.key) or _decide(
            rec, findings, facts, timing, exclude=None, current=current
        )
        (withheld if decided.offer is Offer.WITHHELD else proposed).append(decided)
    return proposed, withheld


def _decide(
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


def _identifier(patient: str | None, rule_id: str, medication: str, observations: Iterable[str]) -> str:
    text = "|".join([patient or "", rule_id, medication, *sorted(observations)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _severity(finding: Finding, context: PatientContext, catalogue: Catalogue) -> IssueSeverity:
    """Evidence level, lowered one step each for reduced response, another tumour, subclonality."""
    rule = finding.rule
    step = _BASE_SEVERITY[rule.evidence.level]
    if rule.effect is Effect.REDUCED_RESPONSE:
        step += 1
    if not finding.in_scope:
        step += 1
    trigger = finding.trigger
    specimen = context.specimen(trigger.specimen)
    if (
        trigger.vaf is not None
        and trigger.vaf < catalogue.parameter(SUBCLONAL_TISSUE_VAF)
        and specimen is not None
        and specimen.type is SpecimenType.TISSUE
    ):
        step += 1
    return _SEVERITY_STEPS[min(step, len(_SEVERITY_STEPS) - 1)]


# ------------------------------------------------------------------------- implications


def _implications(findings: tuple[Finding, ...], catalogue: Catalogue) -> tuple[Implication, ...]:
    grouped: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        scope = finding.rule.therapies
        targets = [(c, "class") for c in scope.classes] + [(d, "drug") for d in scope.drugs]
        for target, kind in targets:
            grouped.setdefault((target, kind, finding.rule.effect.value), []).append(finding)
    out: list[Implication] = []
    for (target, kind, effect), group in sorted(grouped.items()):
        name = catalogue.classes[target].name if kind == "class" else catalogue.drugs[target].name
        best = min((f.rule.evidence.level for f in group), key=lambda lvl: _LEVEL_ORDER[lvl])
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


# ------------------------------------------------------------------------- countermeasures


def _recommendations(findings: tuple[Finding, ...], catalogue: Catalogue) -> tuple[Recommendation, ...]:
    merged: dict[tuple[object, ...], Recommendation] = {}
    order: list[tuple[int, int, tuple[object, ...]]] = []
    for finding in findings:
        if finding.rule.effect not in _FAILS:
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
                order.append((_LEVEL_ORDER[cm.evidence.level], len(order) * 100 + index, key))
    return tuple(merged[key] for _, _, key in sorted(order))


def _joined(first: Countermeasure, other: Countermeasure) -> Countermeasure:
    """One countermeasure offered by two rules: every condition of both must hold (a rule that
    rules the option out for this patient is never overridden by one that does not say so)."""
    extra = [c for c in other.requires if c not in first.requires]
    if not extra:
        return first
    wording = "; ".join(dict.fromkeys(filter(None, (first.condition, other.condition))))
    return first.model_copy(update={"requires": (*first.requires, *extra), "condition": wording or None})


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
        if hit and cm.strategy is Strategy.COMBINE and _spared_by(finding, cm.drugs, catalogue) is not None:
            continue
        if hit:
            clashes.append(finding.rule.id)
    return tuple(clashes)


__all__ = ["DataRequirement", "assess"]
