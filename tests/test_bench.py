"""The benchmark's generators produce what they promise, and its runner reports every figure.

No timing is asserted: the figures are measured, not judged, here.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import generate, run
from fhir_resist import Catalogue, evaluate, hgvs, read_context
from fhir_resist.catalogue.cases import run_cases
from fhir_resist.domain import Call, Kind, Severity, SpecimenType
from fhir_resist.files import read_files

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def _codings(node: Any) -> list[dict[str, Any]]:
    """Every coding anywhere in a JSON tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found += [c for c in node.get("coding", []) if isinstance(c, dict)]
        for value in node.values():
            found += _codings(value)
    elif isinstance(node, list):
        for value in node:
            found += _codings(value)
    return found


@pytest.mark.parametrize("n", [1, 8, 60])
def test_panel_report_is_read_with_the_expected_alterations(n: int) -> None:
    bundle = generate.panel_report(n, seed=3)
    context = read_context([bundle])
    assert len(context.alterations) == generate.expected_alterations(n)
    assert context.patient == "Patient/bench-pt"
    assert [m for m in context.messages if m.severity is not Severity.INFORMATION] == []
    kinds = Counter(a.kind for a in context.alterations)
    assert kinds[Kind.CNV] == 2 and kinds[Kind.FUSION] == 1 and kinds[Kind.MSI] == 1 and kinds[Kind.TMB] == 1
    assert kinds[Kind.VARIANT] == n
    assert {t.source for t in context.therapies} == {
        "MedicationRequest/bench-pt-cetuximab",
        "MedicationRequest/bench-pt-panitumumab",
    }
    report = context.reports[0]
    assert len(report.results) == generate.expected_alterations(n)


def test_panel_report_mix_of_findings() -> None:
    context = read_context([generate.panel_report(60, seed=3)])
    variants = [a for a in context.alterations if a.kind is Kind.VARIANT]
    labels = {a.label for a in variants if a.call is Call.PRESENT}
    assert "KRAS p.G12D" in labels
    absent = [a for a in variants if a.call is Call.ABSENT]
    assert {a.gene for a in absent} == {"NRAS", "BRAF", "EGFR"}
    neutral, _ = generate.passenger_genes()
    assert sum(a.gene in neutral for a in variants) > len(variants) / 2


def test_every_code_comes_from_the_catalogue(catalogue: Catalogue) -> None:
    bundle = generate.panel_report(200, seed=5)
    hgnc = {g.hgnc_id for g in catalogue.genes.values()}
    drugs = {d.codes.rxnorm for d in catalogue.drugs.values()} | {
        atc for d in catalogue.drugs.values() for atc in d.codes.atc
    }
    mane = {g.mane_select.refseq for g in catalogue.genes.values() if g.mane_select} | {
        g.mane_select.protein for g in catalogue.genes.values() if g.mane_select
    }
    for coding in _codings(bundle):
        system, code = coding.get("system"), coding.get("code")
        if system == generate.HGNC:
            assert code in hgnc
        elif system in {generate.RXNORM, generate.ATC}:
            assert code in drugs
        elif system in {generate.HGVS, generate.REFSEQ}:
            assert isinstance(code, str)
            assert code.split(":")[0] in mane


def test_passenger_changes_are_self_consistent() -> None:
    bundle = generate.panel_report(300, seed=11)
    checked = 0
    for resource in _resources(bundle):
        values = {
            c["code"]["coding"][0]["code"]: c["valueCodeableConcept"]["coding"][0]["code"]
            for c in resource.get("component", [])
            if "valueCodeableConcept" in c and c["valueCodeableConcept"].get("coding")
        }
        if "48004-6" in values and "48005-3" in values:
            coding = hgvs.parse_coding(values["48004-6"])
            protein = hgvs.parse_protein(values["48005-3"])
            assert coding.codon == protein.start, (values["48004-6"], values["48005-3"])
            checked += 1
    assert checked > 250


def test_generators_are_deterministic() -> None:
    assert generate.panel_report(30, seed=1) == generate.panel_report(30, seed=1)
    assert generate.panel_report(30, seed=1) != generate.panel_report(30, seed=2)
    assert generate.serial_reports(5, seed=1) == generate.serial_reports(5, seed=1)


def test_serial_reports_tell_acquired_resistance_that_cleared(catalogue: Catalogue) -> None:
    bundles = generate.serial_reports(10, seed=4)
    assert len(bundles) == 3
    context = read_context(bundles)
    assert len(context.alterations) == generate.serial_expected_alterations(10)
    assert [s.type for s in sorted(context.specimens, key=lambda s: s.source)] == [
        SpecimenType.TISSUE,
        SpecimenType.PLASMA,
        SpecimenType.PLASMA,
    ]
    assert any(s.tumour_fraction == pytest.approx(0.14) for s in context.specimens)
    assessment = evaluate(bundles, catalogue=catalogue, at=AT)
    kras = next(f for f in assessment.findings if f.trigger.label == "KRAS p.G12D")
    assert [s.call for s in kras.history.samples] == [Call.ABSENT, Call.PRESENT, Call.ABSENT]
    assert "rechallenge" in {r.countermeasure.strategy.value for r in assessment.countermeasures}


def test_many_patients_as_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "patients.ndjson"
    path.write_text("".join(generate.ndjson(generate.patients(4, 10, seed=2))), encoding="utf-8")
    resources, problems = read_files([path])
    assert problems == []
    groups = run.by_patient(resources)
    assert sorted(groups) == [f"Patient/pt{i:05d}" for i in range(4)]
    for patient, group in groups.items():
        context = read_context(group, patient=patient)
        assert len(context.alterations) == generate.expected_alterations(10)
        assert context.patients == (patient,)


def test_evaluate_leaves_its_input_unchanged(catalogue: Catalogue) -> None:
    """The runner evaluates one parsed report repeatedly: that is fair only if nothing changes it."""
    bundle = generate.panel_report(20, seed=6)
    before = json.dumps(bundle, sort_keys=True)
    run.evaluate_once(bundle, catalogue)
    assert json.dumps(bundle, sort_keys=True) == before


def test_doubled_catalogue_loads_with_every_case_passing(tmp_path: Path, catalogue: Catalogue) -> None:
    from fhir_resist import load_catalogue

    doubled = load_catalogue(run.doubled_catalogue(tmp_path))
    assert len(doubled.rules) == 2 * len(catalogue.rules)
    assert len({r.id for r in doubled.rules}) == len(doubled.rules)
    assert run_cases(doubled) == []


def test_quick_run_reports_every_figure() -> None:
    figures = run.figures(run.QUICK)
    names = [f.name for f in figures]
    assert names == run.figure_names(run.QUICK)
    for figure in figures:
        assert math.isfinite(figure.value) and figure.value >= 0, figure
        assert figure.unit in {"ms", "us", "ratio", "patients/s", "rules"}


def _kind(name: str) -> str:
    """A figure name without its sizes: ``evaluate_500_ms`` -> ``evaluate_N_ms``."""
    return "_".join("N" if part.isdigit() else part for part in name.split("_"))


def test_quick_run_covers_every_kind_of_figure_of_the_full_run() -> None:
    quick = {_kind(n) for n in run.figure_names(run.QUICK, orjson=False)}
    full = {_kind(n) for n in run.figure_names(run.FULL, orjson=False)}
    assert quick == full


def test_main_prints_name_value_unit_lines_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = [
        run.Figure("evaluate_500_ms", 12.25, "ms"),
        run.Figure("evaluate_500_over_parse_floor", 4.5, "ratio"),
    ]
    monkeypatch.setattr(run, "figures", lambda config, log=None: fake)
    assert run.main(["--quick"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "evaluate_500_ms 12.25 ms",
        "evaluate_500_over_parse_floor 4.5 ratio",
    ]
    assert run.main(["--quick", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["figures"][0] == {"name": "evaluate_500_ms", "value": 12.25, "unit": "ms"}
    assert document["config"]["sizes"] == list(run.QUICK.sizes)


def test_hook_benchmark_requests_give_the_expected_cards(catalogue: Catalogue, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from bench.hooks import hook_bodies, percentile
    from fhir_resist.cdshooks.app import ServiceSettings, create_app

    bodies = hook_bodies(20)
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "feedback.jsonl")
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        view = client.post("/cds-services/fhir-resist-patient-view", content=bodies["patient-view"]).json()
        select = client.post("/cds-services/fhir-resist-order-select", content=bodies["order-select"]).json()
    assert any(c["summary"].startswith("cetuximab unlikely to work: KRAS p.G12D") for c in view["cards"])
    (card,) = select["cards"]  # one card for the drug, speaking of its three findings
    assert card["indicator"] == "critical"
    assert card["summary"].endswith("and 2 more findings")
    for finding in ("KRAS p.G12D", "ERBB2 amplification", "MET amplification"):
        assert f"#### {finding}" in card["detail"]
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
