"""Human-readable and JSON renderings of what was understood and concluded."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Alteration, Coverage, GeneScope, Message, PatientContext
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Assessment, Issue, Recommendation, UncertainIssue
from fhir_resist.engine.regimens import Regimen
from fhir_resist.fhir.write import offer_text, withheld_text
from fhir_resist.version import VERSION

_WIDTH = 100


def summary(assessment: Assessment) -> str:
    """A clinician-readable account: finding -> mechanism -> timing -> evidence -> what to do."""
    sections = (
        _header,
        _regimens,
        _alerts,
        _uncertain,
        _exceptions,
        _implications,
        _other_options,
        _withheld,
        _data_requirements,
        _messages,
    )
    return "\n".join(line for section in sections for line in section(assessment)).rstrip()


def _header(assessment: Assessment) -> list[str]:
    tumour = f"{assessment.tumour_name} ({assessment.tumour})" if assessment.tumour else "cancer type unknown"
    return [
        f"fhir_resist {VERSION} | catalogue {assessment.catalogue_version} | "
        f"{assessment.patient or 'patient unknown'} | {tumour} | status {assessment.status.value}",
        "",
    ]


def _regimens(assessment: Assessment) -> list[str]:
    if not assessment.regimens:
        return []
    lines = ["REGIMENS"]
    for regimen in assessment.regimens:
        when = "current or ordered" if regimen.current else _period(regimen)
        lines += _wrap(f"- {regimen.label} ({when})", "  ")
    return [*lines, ""]


def _alerts(assessment: Assessment) -> list[str]:
    if not assessment.issues:
        return ["RESISTANCE ALERTS: none for the therapies in the input", ""]
    lines = [f"RESISTANCE ALERTS ({len(assessment.issues)})"]
    for n, issue in enumerate(assessment.issues, start=1):
        lines += _alert(n, issue, assessment.catalogue)
    return lines


def _alert(n: int, issue: Issue, catalogue: Catalogue) -> list[str]:
    """One alert: finding -> mechanism -> timing -> evidence -> caveats -> what to do -> rule."""
    rule = issue.finding.rule
    lines = [
        f"{n}. [{issue.severity.value.upper()}] {drug_names(issue.drugs, catalogue)} "
        f"({issue.therapy.source}) <- {issue.finding.trigger.label} "
        f"({', '.join(issue.finding.observations)})"
    ]
    lines += _wrap(issue.detail, "   ")
    lines += _wrap(
        f"Mechanism: {rule.mechanism.value}. Timing: {issue.timing.value} - {issue.timing_reason}.",
        "   ",
    )
    refs = "; ".join(r.label() for r in rule.evidence.references[:4])
    lines += _wrap(
        f"Evidence {rule.evidence.level.value}: {rule.evidence.summary or rule.title} [{refs}]", "   "
    )
    for caveat in rule.caveats:
        lines += _wrap(f"Caveat: {caveat}", "   ")
    if issue.countermeasures:
        lines.append("   What to do:")
        for i, rec in enumerate(issue.countermeasures, start=1):
            lines += _wrap(f"{i}) {offer_text(rec, catalogue)}", "     ")
    return [*lines, f"   Rule: {rule.id}", ""]


def _uncertain(assessment: Assessment) -> list[str]:
    """New uncatalogued variants in resistance genes: uncertain, for expert review, never a prediction."""
    if not assessment.uncertain:
        return []
    lines = [
        "UNCERTAIN, EXPERT REVIEW: NEW UNCATALOGUED VARIANTS IN RESISTANCE GENES "
        f"({len(assessment.uncertain)})",
        "   Not a prediction that the drug fails; no countermeasure is proposed.",
    ]
    for n, issue in enumerate(assessment.uncertain, start=1):
        lines += _uncertain_one(n, issue, assessment.catalogue)
    return lines


def _uncertain_one(n: int, issue: UncertainIssue, catalogue: Catalogue) -> list[str]:
    lines = [
        f"{n}. [{issue.severity.value.upper()}, UNCERTAIN] {drug_names(issue.drugs, catalogue)} "
        f"({issue.therapy.source}) <- {issue.alteration.label} ({', '.join(issue.observations)})"
    ]
    lines += _wrap(issue.detail, "   ")
    sets = issue.gene_sets
    refs = "; ".join(r.label() for s in sets for r in s.evidence.references[:2])
    lines += _wrap(
        f"Why the gene: evidence {sets[0].evidence.level.value} that it is tied to resistance "
        f"({sets[0].evidence.summary or sets[0].title}) [{refs}]",
        "   ",
    )
    return [*lines, f"   Gene set: {', '.join(s.id for s in sets)}", ""]


def _exceptions(assessment: Assessment) -> list[str]:
    if not assessment.exceptions:
        return []
    catalogue = assessment.catalogue
    lines = ["NOT ALERTED: THE REGIMEN HOLDS THE PARTNER THAT OVERCOMES THE FINDING"]
    for exc in assessment.exceptions:
        lines += _wrap(
            f"- {drug_names(exc.drugs, catalogue)} ({exc.therapy.source}) with "
            f"{drug_names(exc.partners, catalogue)}: {exc.finding.trigger.label} does not defeat "
            f"this regimen. {exc.reason} [{exc.finding.rule.id}]",
            "  ",
        )
    return [*lines, ""]


def _implications(assessment: Assessment) -> list[str]:
    if not assessment.implications:
        return []
    lines = ["THERAPY IMPLICATIONS (whether or not the patient takes them)"]
    for imp in assessment.implications:
        lines.append(f"  {imp.name}: {imp.effect} [evidence {imp.evidence_level}; {', '.join(imp.rule_ids)}]")
    return [*lines, ""]


def _other_options(assessment: Assessment) -> list[str]:
    """Countermeasures the findings offer that no alert already lists."""
    other = [r for r in assessment.countermeasures if not _in_issues(r, assessment)]
    if not other:
        return []
    lines = ["OPTIONS FROM THE FINDINGS"]
    for rec in other:
        lines += _wrap(f"- {offer_text(rec, assessment.catalogue)} (for {', '.join(rec.reasons)})", "  ")
    return [*lines, ""]


def _withheld(assessment: Assessment) -> list[str]:
    if not assessment.withheld:
        return []
    lines = ["WITHHELD: RULED OUT BY THE PATIENT'S OWN FACTS"]
    for rec in assessment.withheld:
        lines += _wrap(f"- {withheld_text(rec, assessment.catalogue)} [{', '.join(rec.rule_ids)}]", "  ")
    return [*lines, ""]


def _data_requirements(assessment: Assessment) -> list[str]:
    if not assessment.data_requirements:
        return []
    lines = ["DATA THAT WOULD CHANGE THE ANSWER"]
    for need in assessment.data_requirements:
        lines += _wrap(f"- {need.text}: {need.reason}", "  ")
    return [*lines, ""]


def _messages(assessment: Assessment) -> list[str]:
    if not assessment.messages:
        return []
    lines = ["INPUT NOT USED OR NOT UNDERSTOOD"]
    for message in assessment.messages:
        lines += _wrap(f"- [{message.severity.value}] {message.where}: {message.text}", "  ")
    return lines


def _period(regimen: Regimen) -> str:
    start = regimen.start.isoformat() if regimen.start else "start unknown"
    end = regimen.end.isoformat() if regimen.end else "end unknown"
    return f"{start} to {end}"


def _in_issues(rec: Recommendation, assessment: Assessment) -> bool:
    return any(rec.key == r.key for issue in assessment.issues for r in issue.countermeasures)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def context_json(context: PatientContext, problems: Iterable[Message] = ()) -> dict[str, Any]:
    """What was understood, for ``fhir-resist inspect --json``."""
    return {
        "patient": context.patient,
        "alterations": [_alteration(a) for a in context.alterations],
        "therapies": [
            {
                "source": t.source,
                "label": t.label,
                "status": t.status,
                "proposed": t.proposed,
                "start": t.start.isoformat() if t.start else None,
                "end": t.end.isoformat() if t.end else None,
                "codings": [{"system": c.system, "code": c.code, "display": c.display} for c in t.codings],
            }
            for t in context.therapies
        ],
        "tumours": [
            {
                "source": t.source,
                "label": t.text or next((c.display for c in t.codings if c.display), ""),
                "codings": [{"system": c.system, "code": c.code} for c in t.codings],
            }
            for t in context.tumours
        ],
        "specimens": [
            {
                "source": s.source,
                "type": s.type.value,
                "collected": s.collected.isoformat() if s.collected else None,
            }
            for s in context.specimens
        ],
        "reports": [
            {
                "source": r.source,
                "status": r.status,
                "issued": r.issued.isoformat() if r.issued else None,
                "coverage": coverage_json(r.coverage),
            }
            for r in context.reports
        ],
        "lab_implications": [
            {
                "source": i.source,
                "assertion": i.assertion,
                "text": i.text,
                "derived_from": list(i.derived_from),
                "drug": i.drug_text or next((c.display or c.code for c in i.drug_codings), None),
            }
            for i in context.lab_implications
        ],
        "messages": [
            {"severity": m.severity.value, "where": m.where, "text": m.text}
            for m in (*problems, *context.messages)
        ],
    }


def coverage_json(coverage: Coverage) -> dict[str, Any]:
    """What a report says it studied; ``stated`` False: it says nothing (scope unknown)."""
    return {
        "stated": coverage.stated,
        "genes": [
            {
                "gene": g.gene,
                "hgnc_id": g.hgnc_id,
                "scope": scope_label(g),
                "exons": list(g.exons),
                "codons": list(g.codons),
                "kinds": [k.value for k in g.kinds],
                "source": g.source,
            }
            for g in coverage.genes
        ],
        "kinds": [k.value for k in coverage.kinds],
        "unreadable": list(coverage.unreadable),
        "uncallable": list(coverage.uncallable),
    }


def coverage_text(coverage: dict[str, Any]) -> str:
    """One line for ``inspect``: what the report covered (from :func:`coverage_json`)."""
    if not coverage["stated"]:
        return "covered: not stated (its negatives count only for the variants they name)"
    parts = [f"{g['gene'] or g['hgnc_id'] or '?'} {g['scope']}" for g in coverage["genes"]]
    if coverage["kinds"]:
        parts.append(f"change kinds assessed: {', '.join(coverage['kinds'])}")
    parts += [f"not read: {u}" for u in coverage["unreadable"]]
    parts += [f"uncallable: {u}" for u in coverage["uncallable"]]
    return "covered: " + "; ".join(parts)


def scope_label(scope: GeneScope) -> str:
    """``whole gene``, ``exons 2, 3``, ``codons 12, 13``, or why the scope is unknown."""
    if scope.whole_gene:
        return "whole gene"
    parts = []
    if scope.exons:
        parts.append(f"exon{'s' if len(scope.exons) > 1 else ''} {', '.join(map(str, scope.exons))}")
    if scope.codons:
        parts.append(f"codon{'s' if len(scope.codons) > 1 else ''} {', '.join(map(str, scope.codons))}")
    return "; ".join(parts) or f"unknown ({scope.unreadable or 'not stated'})"


def _alteration(a: Alteration) -> dict[str, Any]:
    return {
        "source": a.source,
        "kind": a.kind.value,
        "call": a.call.value,
        "label": a.label,
        "gene": a.gene,
        "hgnc_id": a.hgnc_id,
        "protein": f"p.{a.protein.text}" if a.protein else None,
        "coding": a.coding.text if a.coding else None,
        "codon": a.codon,
        "exon": a.exon,
        "consequence": a.consequence,
        "origin": a.origin.value,
        "vaf": a.vaf,
        "cnv": a.cnv.value if a.cnv else None,
        "copy_number": a.copy_number,
        "partner": a.partner,
        "partner_hgnc_id": a.partner_hgnc_id,
        "msi": a.msi.value if a.msi else None,
        "tmb": a.tmb,
        "specimen": a.specimen,
        "report": a.report,
        "observed": a.observed.isoformat() if a.observed else None,
    }
