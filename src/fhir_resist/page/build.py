"""The page from an Assessment and the patient's context (pure: no I/O, no clock)."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Reference
from fhir_resist.domain import PatientContext
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Assessment, Issue, Recommendation, UncertainIssue
from fhir_resist.fhir.write.wording import countermeasure_text
from fhir_resist.page.model import Alert, Link, Need, Option, Page
from fhir_resist.page.timeline import timeline
from fhir_resist.version import VERSION


def build_page(assessment: Assessment, context: PatientContext) -> Page:
    """What the page says of this evaluation."""
    catalogue = assessment.catalogue
    listed = {r.key for issue in assessment.issues for r in issue.countermeasures}
    tumour = f"{assessment.tumour_name} ({assessment.tumour})" if assessment.tumour else None
    return Page(
        patient=assessment.patient,
        tumour=tumour,
        status=assessment.status.value,
        preliminary=assessment.preliminary,
        catalogue_version=assessment.catalogue_version,
        evaluated=assessment.at,
        version=VERSION,
        alerts=tuple(_alert(issue, catalogue) for issue in assessment.issues),
        uncertain=tuple(_uncertain(issue, catalogue) for issue in assessment.uncertain),
        options=tuple(_option(r, catalogue) for r in assessment.countermeasures if r.key not in listed),
        withheld=tuple(_withheld(r, catalogue) for r in assessment.withheld),
        needs=tuple(Need(n.text, n.reason) for n in assessment.data_requirements),
        messages=tuple(f"{m.severity.value}: {m.where}: {m.text}" for m in assessment.messages),
        timeline=timeline(assessment, context),
    )


def _alert(issue: Issue, catalogue: Catalogue) -> Alert:
    rule = issue.finding.rule
    return Alert(
        severity=issue.severity.value,
        drugs=drug_names(issue.drugs, catalogue) or issue.therapy.label,
        therapy=issue.therapy.source,
        finding=issue.finding.trigger.label,
        observations=issue.finding.observations,
        detail=issue.detail,
        mechanism=rule.mechanism.value,
        timing=issue.timing.value,
        timing_reason=issue.timing_reason,
        evidence_level=rule.evidence.level.value,
        evidence_summary=rule.evidence.summary or rule.title,
        references=tuple(link(r) for r in rule.evidence.references),
        caveats=tuple(rule.caveats),
        rule=rule.id,
        options=tuple(_option(r, catalogue) for r in issue.countermeasures),
    )


def _uncertain(issue: UncertainIssue, catalogue: Catalogue) -> Alert:
    first = issue.gene_sets[0]
    return Alert(
        severity=issue.severity.value,
        drugs=drug_names(issue.drugs, catalogue) or issue.therapy.label,
        therapy=issue.therapy.source,
        finding=issue.alteration.label,
        observations=issue.observations,
        detail=issue.detail,
        mechanism=issue.mechanism.value,
        timing=issue.timing.value,
        timing_reason=issue.timing_reason,
        evidence_level=first.evidence.level.value,
        evidence_summary=f"That the gene is tied to resistance: {first.evidence.summary or first.title}",
        references=tuple(link(r) for s in issue.gene_sets for r in s.evidence.references),
        caveats=("Not a prediction that the drug fails; no countermeasure is proposed.",),
        rule=", ".join(s.id for s in issue.gene_sets),
        uncertain=True,
    )


def _option(rec: Recommendation, catalogue: Catalogue) -> Option:
    return Option(
        text=countermeasure_text(rec.countermeasure, catalogue),
        offer=rec.offer.value,
        conditions=rec.why,
        rules=rec.rule_ids,
    )


def _withheld(rec: Recommendation, catalogue: Catalogue) -> Option:
    return Option(
        text=countermeasure_text(rec.countermeasure, catalogue).split(" [evidence")[0],
        offer=rec.offer.value,
        conditions=rec.why,
        rules=rec.rule_ids,
    )


def link(reference: Reference) -> Link:
    """A reference and its public address: PubMed for a PMID, doi.org for a DOI, else none."""
    if reference.pmid:
        return Link(reference.label(), f"https://pubmed.ncbi.nlm.nih.gov/{reference.pmid}/")
    if reference.doi and not reference.seed:
        return Link(reference.label(), f"https://doi.org/{reference.doi}")
    return Link(reference.label())
