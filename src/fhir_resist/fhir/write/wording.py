"""The words a countermeasure is written in: in full, as offered, and as withheld."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure
from fhir_resist.catalogue.schema import Strategy as CountermeasureStrategy
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Offer, Recommendation


def countermeasure_text(cm: Countermeasure, catalogue: Catalogue) -> str:
    """'switch: bevacizumab (with fluoropyrimidine chemotherapy) [level A; CALGB/SWOG 80405]';
    'increase-dose: imatinib 400 mg twice a day (800 mg/day) (...)'."""
    what: list[str] = []
    if cm.drugs:
        joiner = " + " if cm.strategy is CountermeasureStrategy.COMBINE else ", "
        what.append(joiner.join(catalogue.drugs[d].name for d in cm.drugs))
    if cm.dose is not None:
        what[-1] += f" {cm.dose.text}"
    what += [catalogue.classes[c].name for c in cm.classes]
    what += list(cm.tests)
    if not what:  # e.g. a clinical trial described only by its condition or note
        what = [cm.condition or cm.note or cm.strategy.value]
    elif cm.condition:
        what[-1] += f" ({cm.condition})"
    text = f"{cm.strategy.value}: {'; '.join(what)}"
    refs = ", ".join(r.label() for r in cm.evidence.references[:3])
    text += f" [evidence {cm.evidence.level.value}{'; ' + refs if refs else ''}]"
    if cm.note and what:
        text += f". {cm.note}"
    return text


def countermeasure_what(cm: Countermeasure, catalogue: Catalogue) -> str:
    """What a countermeasure names: its drugs ('a and b'), else its drug classes, else its tests."""
    named = drug_names(cm.drugs, catalogue) or ", ".join(catalogue.classes[c].name for c in cm.classes)
    return named or ", ".join(cm.tests)


def offer_text(rec: Recommendation, catalogue: Catalogue) -> str:
    """The countermeasure's text, with what must still hold when it is conditional."""
    text = countermeasure_text(rec.countermeasure, catalogue)
    if rec.offer is Offer.CONDITIONAL:
        return f"CONDITIONAL {text} - only if: {'; '.join(rec.why)}"
    return text


def withheld_text(rec: Recommendation, catalogue: Catalogue) -> str:
    """'switch: X (condition): reason; reason' for a withheld countermeasure (no evidence tail)."""
    what = countermeasure_text(rec.countermeasure, catalogue).split(" [evidence")[0]
    return f"{what}: {'; '.join(rec.why)}"
