"""Human-readable and JSON renderings of what was understood and concluded."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from fhir_resist.domain import Alteration, Message, PatientContext
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Assessment, Recommendation
from fhir_resist.engine.regimens import Regimen
from fhir_resist.fhir.write import offer_text, withheld_text
from fhir_resist.version import VERSION

_WIDTH = 100


def summary(assessment: Assessment) -> str:
    """A clinician-readable account: finding -> mechanism -> timing -> evidence -> what to do."""
    catalogue = assessment.catalogue
    tumour = f"{assessment.tumour_name} ({assessment.tumour})" if assessment.tumour else "cancer type unknown"
    lines = [
        f"fhir_resist {VERSION} | catalogue {assessment.catalogue_version} | "
        f"{assessment.patient or 'patient unknown'} | {tumour} | status {assessment.status.value}",
        "",
    ]
    if assessment.regimens:
        lines.append("REGIMENS")
        for regimen in assessment.regimens:
            when = "current or ordered" if regimen.current else _period(regimen)
            lines += _wrap(f"- {regimen.label} ({when})", "  ")
        lines.append("")
    if assessment.issues:
        lines.append(f"RESISTANCE ALERTS ({len(assessment.issues)})")
        for n, issue in enumerate(assessment.issues, start=1):
            rule = issue.finding.rule
            lines.append(
                f"{n}. [{issue.severity.value.upper()}] {drug_names(issue.drugs, catalogue)} "
                f"({issue.therapy.source}) <- {issue.finding.trigger.label} "
                f"({', '.join(issue.finding.observations)})"
            )
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
            lines.append(f"   Rule: {rule.id}")
            lines.append("")
    else:
        lines += ["RESISTANCE ALERTS: none for the therapies in the input", ""]
    if assessment.exceptions:
        lines.append("NOT ALERTED: THE REGIMEN HOLDS THE PARTNER THAT OVERCOMES THE FINDING")
        for exc in assessment.exceptions:
            lines += _wrap(
                f"- {drug_names(exc.drugs, catalogue)} ({exc.therapy.source}) with "
                f"{drug_names(exc.partners, catalogue)}: {exc.finding.trigger.label} does not defeat "
                f"this regimen. {exc.reason} [{exc.finding.rule.id}]",
                "  ",
            )
        lines.append("")
    if assessment.implications:
        lines.append("THERAPY IMPLICATIONS (whether or not the patient takes them)")
        for imp in assessment.implications:
            lines.append(
                f"  {imp.name}: {imp.effect} [evidence {imp.evidence_level}; {', '.join(imp.rule_ids)}]"
            )
        lines.append("")
    other = [r for r in assessment.countermeasures if not _in_issues(r, assessment)]
    if other:
        lines.append("OPTIONS FROM THE FINDINGS")
        for rec in other:
            lines += _wrap(f"- {offer_text(rec, catalogue)} (for {', '.join(rec.reasons)})", "  ")
        lines.append("")
    if assessment.withheld:
        lines.append("WITHHELD: RULED OUT BY THE PATIENT'S OWN FACTS")
        for rec in assessment.withheld:
            lines += _wrap(f"- {withheld_text(rec, catalogue)} [{', '.join(rec.rule_ids)}]", "  ")
        lines.append("")
    if assessment.data_requirements:
        lines.append("DATA THAT WOULD CHANGE THE ANSWER")
        for need in assessment.data_requirements:
            lines += _wrap(f"- {need.text}: {need.reason}", "  ")
        lines.append("")
    if assessment.messages:
        lines.append("INPUT NOT USED OR NOT UNDERSTOOD")
        for message in assessment.messages:
            lines += _wrap(f"- [{message.severity.value}] {message.where}: {message.text}", "  ")
    return "\n".join(lines).rstrip()


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
            {"source": r.source, "status": r.status, "issued": r.issued.isoformat() if r.issued else None}
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
        "msi": a.msi.value if a.msi else None,
        "tmb": a.tmb,
        "specimen": a.specimen,
        "report": a.report,
        "observed": a.observed.isoformat() if a.observed else None,
    }
