"""Where the laboratory's own therapeutic implications agree or disagree with the catalogue.

A lab assertion is input, not truth: it never becomes an alert by itself. The comparison is
reported as messages so the clinician sees both views.
"""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import LabImplication, Message, Severity
from fhir_resist.engine.findings import FAILS
from fhir_resist.engine.model import Finding


def compare(
    implications: tuple[LabImplication, ...], findings: tuple[Finding, ...], catalogue: Catalogue
) -> tuple[Message, ...]:
    messages: list[Message] = []
    for lab in implications:
        drugs = catalogue.resolve_drugs(lab.drug_codings, lab.drug_text)
        named = lab.drug_text or next((c.display or c.code or "" for c in lab.drug_codings), "") or "the drug"
        if not drugs:
            messages.append(
                Message(
                    Severity.INFORMATION,
                    lab.source,
                    f"lab implication for '{named}' ({lab.text or lab.assertion}): the drug is not "
                    "in the catalogue, so it cannot be compared",
                )
            )
            continue
        related = [
            f
            for f in findings
            if set(lab.derived_from) & set(f.observations)
            and set(drugs) & catalogue.members(f.rule.therapies)
        ]
        ours = sorted({f.rule.id for f in related if f.rule.effect in FAILS})
        if lab.assertion == "resistant" and ours:
            text = f"lab reports resistance to {named}; the catalogue agrees ({', '.join(ours)})"
            severity = Severity.INFORMATION
        elif lab.assertion == "resistant":
            text = (
                f"lab reports resistance to {named}; the catalogue has no rule supporting it, so no alert "
                "is raised - review the lab's evidence"
            )
            severity = Severity.WARNING
        elif lab.assertion == "responsive" and ours:
            text = (
                f"lab reports {named} as responsive, but the catalogue predicts it fails "
                f"({', '.join(ours)}) - the two disagree"
            )
            severity = Severity.WARNING
        elif lab.assertion == "responsive":
            text = f"lab reports {named} as responsive; no catalogue rule contradicts it"
            severity = Severity.INFORMATION
        else:
            text = (
                f"lab implication for {named} ({lab.text or 'unrecognised'}) is not a resistance or response"
            )
            severity = Severity.INFORMATION
        messages.append(Message(severity, lab.source, text))
    return tuple(messages)
