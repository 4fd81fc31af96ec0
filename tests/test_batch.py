"""Many patients at once: the same results as each patient alone, in id order, on every core,
one patient's bad input never stopping the others."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_resist.api import evaluate, to_bundle
from fhir_resist.batch import Evaluated, Failed, evaluate_many
from fhir_resist.catalogue import Catalogue
from fhir_resist.fhir.read.population import group_by_patient
from tests.conftest import EXAMPLES, ROOT, load_json

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FILES = sorted(EXAMPLES.glob("crc-*.json"))


def _alone(catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """Each example patient's Bundle, evaluated alone from its own file."""
    out = {}
    for path in FILES:
        assessment = evaluate([load_json(path)], catalogue=catalogue, at=AT)
        assert assessment.patient is not None
        out[assessment.patient] = to_bundle(assessment)
    return out


def _ndjson_resources() -> list[dict[str, Any]]:
    """The examples as a bulk export would give them: every resource loose, Bundles gone."""
    return [entry["resource"] for path in FILES for entry in load_json(path)["entry"]]


@pytest.mark.parametrize("workers", [1, 2])
def test_many_patients_give_what_each_gives_alone(catalogue: Catalogue, workers: int) -> None:
    grouped = group_by_patient([load_json(path) for path in FILES])
    assert grouped.unattributed == ()
    outcomes = evaluate_many(grouped.patients, workers=workers, catalogue=ROOT / "catalogue", at=AT)
    alone = _alone(catalogue)
    assert [o.patient for o in outcomes] == sorted(alone)
    for outcome in outcomes:
        assert isinstance(outcome, Evaluated)
        assert outcome.bundle == alone[outcome.patient]
        json.dumps(outcome.bundle)  # JSON-ready as it comes back


def test_a_bulk_export_is_grouped_by_reference_and_gives_the_same_results(catalogue: Catalogue) -> None:
    grouped = group_by_patient(_ndjson_resources())
    outcomes = evaluate_many(grouped.patients, workers=1, catalogue=catalogue, at=AT)
    alone = _alone(catalogue)
    assert {o.patient: o.bundle for o in outcomes if isinstance(o, Evaluated)} == alone


def test_a_result_without_subject_goes_to_the_patient_whose_report_lists_it() -> None:
    report = {"resourceType": "DiagnosticReport", "id": "r", "subject": {"reference": "Patient/a"},
              "result": [{"reference": "Observation/v"}]}  # fmt: skip
    variant = {"resourceType": "Observation", "id": "v"}
    stray = {"resourceType": "Observation", "id": "w"}
    others = [{"resourceType": "Patient", "id": "a"}, {"resourceType": "Patient", "id": "b"}]
    grouped = group_by_patient([*others, report, variant, stray])
    assert [r["id"] for r in grouped.patients["Patient/a"]] == ["a", "r", "v"]
    assert [r["id"] for r in grouped.patients["Patient/b"]] == ["b"]
    assert [m.where for m in grouped.unattributed] == ["Observation/w"]
    assert "names no patient" in grouped.unattributed[0].text


def test_a_bundle_of_several_patients_is_cut_into_one_per_patient_keeping_full_urls() -> None:
    entries = [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a"}},
        {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "b"}},
        {"fullUrl": "urn:uuid:3",
         "resource": {"resourceType": "Observation", "subject": {"reference": "urn:uuid:2"}}},
        {"fullUrl": "urn:uuid:4", "resource": {"resourceType": "Organization", "id": "lab"}},
    ]  # fmt: skip
    grouped = group_by_patient([{"resourceType": "Bundle", "type": "collection", "entry": entries}])
    assert [e["fullUrl"] for e in grouped.patients["Patient/a"][0]["entry"]] == ["urn:uuid:1", "urn:uuid:4"]
    assert [e["fullUrl"] for e in grouped.patients["Patient/b"][0]["entry"]] == [
        "urn:uuid:2",
        "urn:uuid:3",
        "urn:uuid:4",
    ]


def test_one_patient_input_is_that_patients_whole_input_unchanged() -> None:
    bundle = load_json(FILES[0])
    assert group_by_patient([bundle]).patients == {"Patient/bv600-pt": [bundle]}


def test_one_bad_patient_is_named_and_the_others_are_evaluated(catalogue: Catalogue) -> None:
    population = {
        "kr12-pt": [load_json(EXAMPLES / "crc-kras-g12d-cetuximab.json")],
        "nobody": [load_json(EXAMPLES / "crc-ras-wt-panitumumab.json")],  # holds raswt-pt, not this one
        "../etc": [],
    }
    outcomes = evaluate_many(population, workers=2, catalogue=ROOT / "catalogue", at=AT)
    assert [o.patient for o in outcomes] == ["Patient/../etc", "Patient/kr12-pt", "Patient/nobody"]
    bad, good, missing = outcomes
    assert isinstance(bad, Failed) and "not a FHIR id" in bad.reason
    assert isinstance(good, Evaluated) and good.issues > 0
    assert isinstance(missing, Failed) and "Patient/nobody is not named in its resources" in missing.reason
    assert not missing.internal


def test_a_defect_on_one_patient_is_reported_as_internal(
    monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue
) -> None:
    import fhir_resist.engine.assess as assess_module

    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(assess_module, "assess", broken)
    [outcome] = evaluate_many({"kr12-pt": [load_json(FILES[1])]}, catalogue=catalogue, at=AT)
    assert isinstance(outcome, Failed) and outcome.internal and "ZeroDivisionError" in outcome.reason


def test_progress_is_told_each_outcome_and_the_callers_collector_is_restored(catalogue: Catalogue) -> None:
    before = gc.get_threshold()
    seen: list[str] = []
    population = [("kr12-pt", [load_json(FILES[1])]), ("bv600-pt", [load_json(FILES[0])])]
    outcomes = evaluate_many(
        population,
        workers=1,
        catalogue=catalogue,
        at=AT,
        render="summary",
        progress=lambda o: seen.append(o.patient),
    )
    assert seen == ["Patient/bv600-pt", "Patient/kr12-pt"]
    assert isinstance(outcomes[1], Evaluated) and outcomes[1].text and "KRAS" in outcomes[1].text
    assert gc.get_threshold() == before


def test_a_patient_given_twice_and_a_loaded_catalogue_for_workers_are_refused(catalogue: Catalogue) -> None:
    from fhir_resist.errors import InputError

    with pytest.raises(InputError, match="given twice"):
        evaluate_many([("a", []), ("Patient/a", [])], catalogue=catalogue)
    with pytest.raises(TypeError, match="give its directory"):
        evaluate_many({"a": [], "b": []}, workers=2, catalogue=catalogue)


def test_what_the_caller_holds_is_out_of_collection_during_a_batch_only(catalogue: Catalogue) -> None:
    assert gc.get_freeze_count() == 0
    frozen_during: list[int] = []
    evaluate_many(
        {"kr12-pt": [load_json(FILES[1])]},
        workers=1,
        catalogue=catalogue,
        at=AT,
        progress=lambda o: frozen_during.append(gc.get_freeze_count()),
    )
    assert frozen_during and frozen_during[0] > 0  # a full collection does not walk the caller's input
    assert gc.get_freeze_count() == 0  # and it is the collector's again after


def test_a_caller_that_froze_objects_keeps_them_frozen(catalogue: Catalogue) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        evaluate_many({"kr12-pt": [load_json(FILES[1])]}, workers=1, catalogue=catalogue, at=AT)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_lone_surrogates_from_json_load_are_repaired_as_the_api_repairs_them(catalogue: Catalogue) -> None:
    text = FILES[0].read_text(encoding="utf-8")
    entries = [e["resource"] for e in json.loads(text)["entry"]]
    patient = next(r["id"] for r in entries if r["resourceType"] == "Patient")
    order = next(r["id"] for r in entries if r["resourceType"] == "MedicationRequest")
    text = text.replace(f'"{order}"', f'"{order}\\ud800"').replace(f'/{order}"', f'/{order}\\ud800"')
    damaged = json.loads(text)
    (outcome,) = evaluate_many({patient: [damaged]}, workers=1, catalogue=catalogue, at=AT)
    assert isinstance(outcome, Evaluated), outcome
    written = json.dumps(outcome.bundle, ensure_ascii=False)
    written.encode("utf-8")  # nothing unwritable came back
    assert "\ufffd" in written  # the damaged order, repaired, is what the alert implicates


def test_what_files_read_already_repaired_is_not_walked_again(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_resist import files
    from fhir_resist.batch import Options, evaluate_patient

    def walked(_: object) -> object:
        raise AssertionError("the input was walked for surrogates again")

    monkeypatch.setattr(files, "valid_unicode", walked)
    monkeypatch.setattr("fhir_resist.api.valid_unicode", walked)
    grouped = group_by_patient([load_json(FILES[0])])
    ((who, given),) = grouped.patients.items()
    assert isinstance(evaluate_patient(who, given, catalogue, Options(AT, repair_unicode=False)), Evaluated)
    walked_again = evaluate_patient(who, given, catalogue, Options(AT))  # the API's default repairs
    assert isinstance(walked_again, Failed) and "walked for surrogates" in walked_again.reason


def test_workers_started_ahead_give_what_each_patient_gives_alone(catalogue: Catalogue) -> None:
    from fhir_resist.batch import Options, iter_evaluated, start_workers

    grouped = group_by_patient([load_json(path) for path in FILES])
    options = Options(AT)
    with start_workers(2, str(ROOT / "catalogue"), options) as started:
        outcomes = list(iter_evaluated(grouped.patients, options, started=started))
        with pytest.raises(ValueError, match="other options"):
            next(iter_evaluated(grouped.patients, Options(AT, render="json"), started=started))
    alone = _alone(catalogue)
    assert [o.patient for o in outcomes] == sorted(alone)
    assert all(isinstance(o, Evaluated) and o.bundle == alone[o.patient] for o in outcomes)


def test_a_caller_that_keeps_only_the_text_gets_no_bundle_back(catalogue: Catalogue) -> None:
    from fhir_resist.batch import Options, iter_evaluated

    grouped = group_by_patient([load_json(path) for path in FILES])
    kept, text_only = (
        list(iter_evaluated(grouped.patients, Options(AT, render="json", keep_bundle=keep), workers=2))
        for keep in (True, False)
    )
    alone = _alone(catalogue)
    for full, lean in zip(kept, text_only, strict=True):
        assert isinstance(full, Evaluated) and isinstance(lean, Evaluated)
        assert full.bundle == alone[full.patient] and lean.bundle == {}
        assert lean.text == full.text == json.dumps(alone[full.patient], indent=2)
        assert (lean.findings, lean.issues, lean.status) == (full.findings, full.issues, full.status)
