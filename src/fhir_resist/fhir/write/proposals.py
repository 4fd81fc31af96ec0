"""What a countermeasure action proposes: one contained request per drug, drug class or test.

FHIR R4 RequestGroup (rqg-1): every action has a ``resource`` or sub-``action``s, never both. A
countermeasure proposes:

- a drug (switch, combine, rechallenge): a MedicationRequest (``intent`` proposal, ``status``
  draft) with the drug's codings; a drug class: the same with the class's name as its text;
- a higher dose (increase-dose): the same MedicationRequest with the dose as a structured
  ``dosageInstruction`` (UCUM mg, times a day);
- a test (retest, monitor): a ServiceRequest (``intent`` proposal, ``status`` draft) named by it;
- a clinical trial: one ServiceRequest, the referral, coded with the countermeasure's code (its
  drugs are the trial's, never a prescription), as is a countermeasure that names nothing else.

One request is the action's ``resource``; several are sub-actions, each with its ``resource``:
alternatives to choose one of (``exactly-one``: switch, rechallenge), a combination given
together (``all``: combine), or tests to order as needed (``any``). The requests are contained in
the RequestGroup (``#id``, referenced from the action, so dom-3 holds) and about its subject.
"""

from __future__ import annotations

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, DoseInstruction
from fhir_resist.catalogue.schema import Strategy as CountermeasureStrategy
from fhir_resist.fhir.write.elements import JSON, STRATEGY_DISPLAY, drug_concept, strategy_coding

# How the sub-actions of a countermeasure with several requests are chosen (RequestGroup
# action.selectionBehavior): one of the drugs named, all of a combination, any of the tests.
_SELECTION: dict[CountermeasureStrategy, str] = {
    CountermeasureStrategy.SWITCH: "exactly-one",
    CountermeasureStrategy.RECHALLENGE: "exactly-one",
    CountermeasureStrategy.COMBINE: "all",
    CountermeasureStrategy.RETEST: "any",
    CountermeasureStrategy.MONITOR: "any",
    CountermeasureStrategy.CLINICAL_TRIAL: "any",
    CountermeasureStrategy.INCREASE_DOSE: "exactly-one",
}
# The subject of a request when the input names no Patient (such results are never written).
NO_PATIENT: JSON = {"display": "patient not identified in the input"}


def proposals(cm: Countermeasure, catalogue: Catalogue, key: str, subject: JSON) -> tuple[JSON, list[JSON]]:
    """The action elements that point at the countermeasure's requests, and the requests to contain.

    ``key`` makes the contained ids unique within the RequestGroup (``key``, ``key-1``, ...).
    """
    named = _named(cm, catalogue, subject)
    if len(named) == 1:
        request = named[0][1]
        request = {**request, "id": key}
        return {"resource": {"reference": f"#{key}"}}, [request]
    contained = [{**request, "id": f"{key}-{n}"} for n, (_title, request) in enumerate(named, 1)]
    return {
        "groupingBehavior": "logical-group",
        "selectionBehavior": _SELECTION[cm.strategy],
        "action": [
            {"title": title, "resource": {"reference": f"#{request['id']}"}}
            for (title, _request), request in zip(named, contained, strict=True)
        ],
    }, contained


def _named(cm: Countermeasure, catalogue: Catalogue, subject: JSON) -> list[tuple[str, JSON]]:
    """Each request the countermeasure proposes, with the words a sub-action would be titled with."""
    if cm.strategy is CountermeasureStrategy.CLINICAL_TRIAL:
        return [_referral(cm, catalogue, subject)]
    found: list[tuple[str, JSON]] = [
        (catalogue.drugs[d].name, _medication(drug_concept(d, catalogue), subject, cm)) for d in cm.drugs
    ]
    found += [
        (catalogue.classes[c].name, _medication({"text": catalogue.classes[c].name}, subject))
        for c in cm.classes
    ]
    found += [(test, _service({"text": test}, subject)) for test in cm.tests]
    return found or [_referral(cm, catalogue, subject)]


def _referral(cm: Countermeasure, catalogue: Catalogue, subject: JSON) -> tuple[str, JSON]:
    """The one request of a countermeasure that is not a prescription or a test: a trial referral."""
    names = [catalogue.drugs[d].name for d in cm.drugs] + [catalogue.classes[c].name for c in cm.classes]
    what = "; ".join(filter(None, (", ".join(names), cm.condition or cm.note)))
    text = f"{STRATEGY_DISPLAY[cm.strategy]}: {what}" if what else STRATEGY_DISPLAY[cm.strategy]
    return text, _service({"coding": [strategy_coding(cm.strategy)], "text": text}, subject)


def _medication(concept: JSON, subject: JSON, cm: Countermeasure | None = None) -> JSON:
    request: JSON = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": concept,
        "subject": subject,
    }
    if cm is not None and cm.dose is not None:
        request["dosageInstruction"] = [_dosage(cm.dose)]
    return request


def _dosage(dose: DoseInstruction) -> JSON:
    """``400 mg twice a day (800 mg/day)`` as an R4 Dosage the reader reads back (fhir/read/dosage.py)."""
    return {
        "text": dose.text,
        "timing": {"repeat": {"frequency": dose.times_per_day, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [
            {"doseQuantity": {"value": dose.mg, "unit": "mg", "system": terminology.UCUM, "code": "mg"}}
        ],
    }


def _service(code: JSON, subject: JSON) -> JSON:
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": code,
        "subject": subject,
    }
