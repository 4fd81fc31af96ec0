"""CDS Hooks cards from an Assessment. Pure: no I/O, no clock.

- One card per affected therapy, speaking of every finding against it (each of which is a
  DetectedIssue of the output contract), the strongest first: on ``order-select`` only for the
  orders just selected, on ``order-sign`` for every draft order, on ``patient-view`` for the
  therapies the patient is on.
- Indicator, from the strongest finding: ``critical`` for high severity against a drug being
  ordered; ``warning`` for high severity against a current therapy and for moderate; ``info``
  for low.
- On ``patient-view``, one ``info`` card for what the findings imply for drugs the patient is
  not on (resistant / reduced response) and the tests that would change the answer.
- Summary under 140 characters; detail in markdown: finding -> mechanism -> timing -> evidence
  -> alternatives; source names fhir_resist, the catalogue version and links the rule.
- For a draft order: one suggestion per drug-naming countermeasure, replacing the draft
  (delete it, create coded draft MedicationRequests), ``selectionBehavior`` ``at-most-one``,
  and override reasons. No card when there is nothing to say.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, Literal

from fhir_resist import terminology
from fhir_resist.catalogue.schema import Effect, Strategy
from fhir_resist.catalogue.site import rule_page
from fhir_resist.cdshooks.hook_services import HookName
from fhir_resist.domain import Therapy
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Assessment, Issue, IssueSeverity, Offer, Recommendation, UncertainIssue
from fhir_resist.fhir.write import drug_concept, offer_text, withheld_text
from fhir_resist.version import VERSION

JSON = dict[str, Any]
Indicator = Literal["critical", "warning", "info"]
SUMMARY_LIMIT = 139
CS_OVERRIDE = terminology.CS_OVERRIDE
OVERRIDE_REASONS = terminology.OVERRIDE_REASONS
_RESISTANT_EFFECTS = frozenset({"resistance", "reduced-response"})


def cards_for(
    assessment: Assessment,
    *,
    hook: HookName,
    hook_instance: str,
    ordering: Collection[str] = (),
    public_url: str | None = None,
) -> list[JSON]:
    """The cards for one hook call. ``ordering``: references of the draft orders to speak about;
    ``public_url``: the service's external base URL, under which a card's ``source.url`` is its
    rule's catalogue page (without it, no ``url``)."""
    if hook == "patient-view":
        issues = [i for i in assessment.issues if not i.therapy.proposed]
    else:
        issues = [i for i in assessment.issues if i.therapy.source in ordering]
    by_therapy: dict[str, list[Issue]] = {}
    for issue in issues:
        by_therapy.setdefault(issue.therapy.source, []).append(issue)
    cards = [
        _therapy_card(group, assessment, hook_instance, ordered=hook != "patient-view", public_url=public_url)
        for group in by_therapy.values()
    ]
    if hook == "patient-view":
        uncertain: dict[str, list[UncertainIssue]] = {}
        for item in assessment.uncertain:
            uncertain.setdefault(item.therapy.source, []).append(item)
        cards += [_uncertain_card(group, assessment, hook_instance) for group in uncertain.values()]
        info = _implications_card(assessment, hook_instance, {d for i in issues for d in i.drugs})
        if info is not None:
            cards.append(info)
    return cards


def source(assessment: Assessment, rule_id: str | None = None, public_url: str | None = None) -> JSON:
    """fhir_resist and the catalogue version; with a rule and the service's public URL, the
    rule's page of the served catalogue (never the rule's canonical, which is no page)."""
    out: JSON = {"label": f"fhir_resist {VERSION}, resistance catalogue {assessment.catalogue_version}"}
    if rule_id and public_url:
        out["url"] = f"{public_url}/catalogue/{rule_page(rule_id)}"
    return out


_RANK = {IssueSeverity.HIGH: 0, IssueSeverity.MODERATE: 1, IssueSeverity.LOW: 2}


def _therapy_card(
    issues: list[Issue], assessment: Assessment, hook_instance: str, *, ordered: bool, public_url: str | None
) -> JSON:
    catalogue = assessment.catalogue
    issues = sorted(issues, key=lambda i: _RANK[i.severity])  # stable: engine order within a rank
    top = issues[0]
    rule = top.finding.rule
    therapy = top.therapy
    drugs = drug_names(tuple(dict.fromkeys(d for i in issues for d in i.drugs)), catalogue) or therapy.label
    indicator = _indicator(top.severity, ordering=ordered and therapy.proposed)
    effect = "unlikely to work" if rule.effect is Effect.RESISTANCE else "may work less well"
    more = f" and {len(issues) - 1} more finding{'s' if len(issues) > 2 else ''}" if len(issues) > 1 else ""
    summary = _short(
        f"{drugs} {effect}: {top.finding.trigger.label} ({rule.mechanism.value} resistance){more}"
    )
    countermeasures = list({r.key: r for i in issues for r in i.countermeasures}.values())
    card: JSON = {
        "uuid": _uuid(hook_instance, "|".join([therapy.source, *sorted(i.identifier for i in issues)])),
        "summary": summary,
        "detail": _detail(issues, countermeasures, assessment),
        "indicator": indicator,
        "source": source(assessment, rule.id, public_url),
    }
    if ordered and therapy.proposed:
        suggestions = _suggestions(therapy, countermeasures, assessment, hook_instance)
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "at-most-one"
        card["overrideReasons"] = [
            {"system": CS_OVERRIDE, "code": code, "display": display} for code, display in OVERRIDE_REASONS
        ]
    return card


def _uncertain_card(issues: list[UncertainIssue], assessment: Assessment, hook_instance: str) -> JSON:
    """An ``info`` card: new uncatalogued variants in a resistance gene of this therapy, for expert
    review; never worded as a failure, never with suggestions."""
    catalogue = assessment.catalogue
    therapy = issues[0].therapy
    drugs = drug_names(tuple(dict.fromkeys(d for i in issues for d in i.drugs)), catalogue) or therapy.label
    variants = ", ".join(dict.fromkeys(i.alteration.label for i in issues))
    lines = [
        "**Uncertain significance, expert review.** Not a prediction that the drug fails; no "
        "countermeasure is proposed.",
        "",
    ]
    for issue in issues:
        sets = issue.gene_sets
        refs = "; ".join(r.label() for s in sets for r in s.evidence.references[:2])
        lines += [
            f"**New variant.** {issue.detail}",
            "",
            f"**Timing.** {issue.timing.value}: {issue.timing_reason}.",
            "",
            _evidence(
                sets[0].evidence.level.value, f"(that the gene is tied to resistance) {sets[0].title}.", refs
            ),
            "",
        ]
    return {
        "uuid": _uuid(
            hook_instance, "|".join(["uncertain", therapy.source, *sorted(i.identifier for i in issues)])
        ),
        "summary": _short(f"Uncertain, expert review: new uncatalogued {variants} on {drugs}"),
        "detail": "\n".join(lines).strip(),
        "indicator": "info",
        "source": source(assessment),
    }


def _indicator(severity: IssueSeverity, *, ordering: bool) -> Indicator:
    """``critical`` for high severity against a drug being ordered, ``warning`` for high against a
    current therapy and for moderate, ``info`` for low."""
    if severity is IssueSeverity.HIGH:
        return "critical" if ordering else "warning"
    return "warning" if severity is IssueSeverity.MODERATE else "info"


def _detail(issues: list[Issue], countermeasures: list[Recommendation], assessment: Assessment) -> str:
    catalogue = assessment.catalogue
    lines: list[str] = []
    for issue in issues:
        rule = issue.finding.rule
        refs = "; ".join(r.label() for r in rule.evidence.references[:4])
        if len(issues) > 1:
            lines += [f"#### {issue.finding.trigger.label} ({issue.severity.value})", ""]
        lines += [
            f"**Finding.** {issue.detail}",
            "",
            f"**Mechanism.** {rule.mechanism.value}: {rule.title}.",
            "",
            f"**Timing.** {issue.timing.value}: {issue.timing_reason}.",
            "",
            _evidence(rule.evidence.level.value, rule.evidence.summary, refs),
        ]
        for caveat in rule.caveats:
            lines += ["", f"*Caveat:* {caveat}"]
        lines += ["", f"Rule `{rule.id}`, severity {issue.severity.value}.", ""]
    if countermeasures:
        lines += ["**Alternatives.**"]
        lines += [f"- {_md(offer_text(rec, catalogue))}" for rec in countermeasures]
    rules = {i.finding.rule.id for i in issues}
    withheld = [r for r in assessment.withheld if rules & set(r.rule_ids)]
    if withheld:
        lines += ["", "**Not offered for this patient.**"]
        lines += [f"- {_md(withheld_text(r, catalogue))}" for r in withheld]
    return "\n".join(lines).strip()


def _evidence(level: str, summary: str | None, refs: str) -> str:
    text = f"**Evidence.** Level {level}." + (f" {summary}" if summary else "")
    return text + (f" ({refs})" if refs else "")


def _suggestions(
    draft: Therapy, countermeasures: list[Recommendation], assessment: Assessment, hook_instance: str
) -> list[JSON]:
    out: list[JSON] = []
    for n, rec in enumerate(countermeasures):
        cm = rec.countermeasure
        if cm.strategy not in (Strategy.SWITCH, Strategy.COMBINE) or not cm.drugs:
            continue
        names = drug_names(cm.drugs, assessment.catalogue)
        actions: list[JSON] = [
            {
                "type": "delete",
                "description": f"Remove the draft order for {draft.label}",
                "resourceId": draft.source,
            }
        ]
        actions += [
            {
                "type": "create",
                "description": f"Draft an order for {assessment.catalogue.drugs[d].name}"
                + (f" ({cm.condition})" if cm.condition else ""),
                "resource": _medication_request(d, assessment),
            }
            for d in cm.drugs
        ]
        conditional = rec.offer is Offer.CONDITIONAL
        out.append(
            {
                "label": _short(
                    f"Replace {draft.label} with {names}" + (" (if eligible)" if conditional else "")
                ),
                "uuid": _uuid(hook_instance, f"{draft.source}|{n}"),
                # Only an option every condition of which is met is recommended.
                "isRecommended": not conditional and not any(o.get("isRecommended") for o in out),
                "actions": actions,
            }
        )
    return out


def _medication_request(drug_id: str, assessment: Assessment) -> JSON:
    concept = {k: v for k, v in drug_concept(drug_id, assessment.catalogue).items() if v is not None}
    resource: JSON = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": concept,
    }
    if assessment.patient:
        resource["subject"] = {"reference": assessment.patient}
    return resource


def _implications_card(assessment: Assessment, hook_instance: str, covered: set[str]) -> JSON | None:
    catalogue = assessment.catalogue
    against = [
        imp
        for imp in assessment.implications
        if imp.effect in _RESISTANT_EFFECTS and not (imp.target_kind == "drug" and imp.target in covered)
    ]
    if not against and not assessment.data_requirements:
        return None
    names = ", ".join(dict.fromkeys(imp.name for imp in against))
    if against:
        summary = _short(f"Genomic findings predict resistance to: {names}")
    else:
        summary = _short("Genomic results needed before choosing a targeted therapy")
    lines: list[str] = []
    if against:
        lines.append("**What the findings imply** (whether or not the patient takes these drugs):")
        lines += [
            f"- {imp.name}: {imp.effect.replace('-', ' ')} (evidence {imp.evidence_level}; "
            f"{', '.join(f'`{r}`' for r in imp.rule_ids)})"
            for imp in against
        ]
    if assessment.data_requirements:
        lines += ["", "**Tests that would change the answer:**"]
        lines += [f"- {need.text}: {need.reason}" for need in assessment.data_requirements]
    other = [r for r in assessment.countermeasures if _answers_only_implications(r, assessment)]
    if other:
        lines += ["", "**Options from the findings:**"]
        lines += [f"- {_md(offer_text(r, catalogue))}" for r in other]
    return {
        "uuid": _uuid(hook_instance, "implications"),
        "summary": summary,
        "detail": "\n".join(lines).strip(),
        "indicator": "info",
        "source": source(assessment),
    }


def _answers_only_implications(rec: Recommendation, assessment: Assessment) -> bool:
    return not any(rec in issue.countermeasures for issue in assessment.issues)


def _uuid(hook_instance: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{terminology.BASE}/cds|{hook_instance}|{key}"))


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _md(text: str) -> str:
    return text.replace("*", "\\*").replace("_", "\\_")
