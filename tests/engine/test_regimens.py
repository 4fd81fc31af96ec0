"""Regimens formed from each input shape: order sets, plans, overlapping statements, orders being signed."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir_resist import read_context
from fhir_resist.domain import Therapy
from fhir_resist.engine.regimens import form_regimens, regimen_of

TODAY = date(2026, 4, 1)


def _therapy(source: str, *, start: str | None = None, end: str | None = None, **extra: Any) -> Therapy:
    return Therapy(
        source=source,
        resource_type=source.split("/")[0],
        status=extra.pop("status", "active"),
        codings=(),
        text=source.split("/")[1],
        start=date.fromisoformat(start) if start else None,
        end=date.fromisoformat(end) if end else None,
        **extra,
    )


def _sources(regimens: Any) -> list[list[str]]:
    return [[t.source for t in r.therapies] for r in regimens]


def test_current_therapies_and_an_order_being_signed_form_one_regimen() -> None:
    active = _therapy("MedicationRequest/enco", start="2026-03-01")
    draft = _therapy("MedicationRequest/cetux", status="draft", proposed=True)
    (regimen,) = form_regimens(((active, ("encorafenib",)), (draft, ("cetuximab",))), (), TODAY)
    assert regimen.current
    assert regimen.drugs == ("encorafenib", "cetuximab")
    assert regimen_of(draft, (regimen,)) is regimen


def test_past_courses_that_overlap_are_one_regimen_and_a_later_switch_is_another() -> None:
    dabra = _therapy("MedicationStatement/dabra", start="2024-01-10", end="2024-09-01")
    trame = _therapy("MedicationStatement/trame", start="2024-01-20", end="2024-09-01")
    pembro = _therapy("MedicationStatement/pembro", start="2024-09-01", end="2025-06-01")
    regimens = form_regimens(
        (), ((dabra, ("dabrafenib",)), (trame, ("trametinib",)), (pembro, ("p",))), TODAY
    )
    assert _sources(regimens) == [
        ["MedicationStatement/dabra", "MedicationStatement/trame"],
        ["MedicationStatement/pembro"],  # started the day the others stopped: a switch
    ]
    assert regimens[0].start == date(2024, 1, 10)
    assert regimens[0].end == date(2024, 9, 1)


def test_undated_past_courses_join_only_through_a_shared_request_or_group() -> None:
    a = _therapy("MedicationRequest/a", status="completed", groups=("CarePlan/cp-1",))
    b = _therapy("MedicationRequest/b", status="completed", groups=("CarePlan/cp-1",))
    c = _therapy("MedicationRequest/c", status="completed", groups=("http://ehr/order-sets|7",))
    d = _therapy("MedicationRequest/d", status="completed", groups=("MedicationRequest/c",))  # based on c
    e = _therapy("MedicationRequest/e", status="completed")
    regimens = form_regimens((), tuple((t, (t.text or "",)) for t in (a, b, c, d, e)), TODAY)
    assert sorted(_sources(regimens)) == [
        ["MedicationRequest/a", "MedicationRequest/b"],
        ["MedicationRequest/c", "MedicationRequest/d"],
        ["MedicationRequest/e"],
    ]
    assert all(not r.current for r in regimens)


def _request(rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": rid},
        **extra,
    }


def test_the_reader_keeps_what_ties_a_therapy_to_its_regimen() -> None:
    resources = [
        {"resourceType": "Patient", "id": "p"},
        _request(
            "mr-1",
            basedOn=[{"reference": "CarePlan/cp-1"}, {"reference": "RequestGroup/rg-1"}],
            groupIdentifier={"system": "http://ehr/order-sets", "value": "7"},
        ),
        {
            "resourceType": "MedicationStatement",
            "id": "ms-1",
            "status": "active",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": "trametinib"},
            "partOf": [{"reference": "MedicationStatement/ms-0"}],
        },
        _request("mr-2", groupIdentifier={"value": 7}),  # not a string: not a group
    ]
    therapies = {t.source: t.groups for t in read_context(resources).therapies}
    assert therapies == {
        "MedicationRequest/mr-1": ("CarePlan/cp-1", "RequestGroup/rg-1", "http://ehr/order-sets|7"),
        "MedicationStatement/ms-1": ("MedicationStatement/ms-0",),
        "MedicationRequest/mr-2": (),
    }
