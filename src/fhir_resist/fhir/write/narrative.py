"""The narrative (``text``) of every resource we write: one or two sentences for a clinician.

Built with ``xhtml`` (escaping, the ``div``). Pure and deterministic: the same assessment gives
the same bytes, so re-writing an unchanged result stays a no-op on the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.engine.model import Assessment, Issue, Offer, Recommendation, UncertainIssue
from fhir_resist.fhir.write.elements import JSON, STRATEGY_DISPLAY
from fhir_resist.fhir.write.wording import countermeasure_what
from fhir_resist.fhir.write.xhtml import escape, narrative

_EFFECT = {
    "resistance": "Resistance",
    "reduced-response": "Reduced response",
    "sensitivity": "Sensitivity",
    "no-known-effect": "No known effect",
}
_LISTED = 5  # items named in a sentence before "and N more"


def listed(items: Iterable[str]) -> str:
    """Up to five items, escaped and joined by "; ", then "and N more"."""
    names = list(dict.fromkeys(items))
    text = "; ".join(escape(n) for n in names[:_LISTED])
    return text + (f"; and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def issue_text(issue: Issue, catalogue: Catalogue) -> JSON:
    """'Resistance (high): KRAS p.G12D predicts resistance to cetuximab ... Consider: ...'."""
    effect = _EFFECT[issue.finding.rule.effect.value]
    head = f"<b>{effect} ({escape(issue.severity.value)})</b>: {escape(issue.detail)}"
    options = [recommendation_title(rec, catalogue) for rec in issue.countermeasures]
    return narrative(head, f"Consider: {listed(options)}." if options else "")


def uncertain_text(issue: UncertainIssue) -> JSON:
    """The narrative of a new uncatalogued variant in a resistance gene: expert review, no action."""
    head = (
        f"<b>Uncertain resistance significance ({escape(issue.severity.value)})</b>: {escape(issue.detail)}"
    )
    return narrative(
        head, "For expert review; not a prediction that the drug fails, and no countermeasure is proposed."
    )


def recommendation_title(rec: Recommendation, catalogue: Catalogue) -> str:
    """'Switch therapy: panitumumab', with '(only if ...)' when it is conditional."""
    cm = rec.countermeasure
    what = countermeasure_what(cm, catalogue)
    title = f"{STRATEGY_DISPLAY[cm.strategy]}: {what}" if what else STRATEGY_DISPLAY[cm.strategy]
    if rec.offer is Offer.CONDITIONAL:
        title += f" (only if {'; '.join(rec.why)})"
    return title


def group_text(assessment: Assessment, catalogue: Catalogue) -> JSON:
    """What the RequestGroup proposes, for review (or that it proposes nothing)."""
    titles = [recommendation_title(rec, catalogue) for rec in assessment.countermeasures]
    if not titles:
        return narrative("No countermeasure is proposed.")
    return narrative(f"<b>Proposed for review</b> (drafts, not orders): {listed(titles)}.")


def guidance_text(assessment: Assessment) -> JSON:
    """The evaluation in a sentence: its alerts by finding and drug, then what would change it."""
    alerts = [
        f"{i.finding.trigger.label} against {i.therapy.label} ({i.severity.value})" for i in assessment.issues
    ]
    head = (
        f"<b>Resistance evaluation</b> ({escape(assessment.status.value)}, catalogue "
        f"{escape(assessment.catalogue_version)}): "
        + (f"{len(alerts)} alert{_s(alerts)}: {listed(alerts)}." if alerts else "no resistance alert.")
    )
    more: list[str] = []
    if assessment.uncertain:
        uncertain = assessment.uncertain
        more.append(f"{len(uncertain)} uncatalogued variant finding{_s(uncertain)} for expert review")
    if assessment.data_requirements:
        needs = assessment.data_requirements
        more.append(f"{len(needs)} further result{_s(needs)} would change the answer")
    tail = "; ".join(more)
    return narrative(head, f"{tail[:1].upper()}{tail[1:]}." if tail else "")


def provenance_text(assessment: Assessment, sources: int, version: str) -> JSON:
    return narrative(
        f"Recorded by fhir_resist {escape(version)} with resistance catalogue "
        f"{escape(assessment.catalogue_version)} from {sources} input resource{'' if sources == 1 else 's'}."
    )


def device_text(version: str) -> JSON:
    return narrative(f"fhir_resist {escape(version)}: targeted-therapy resistance decision support.")


def _s(items: Sized) -> str:
    return "" if len(items) == 1 else "s"
