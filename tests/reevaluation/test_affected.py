"""After a one-rule catalogue change, exactly the patients the rule reads are selected."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench import generate
from fhir_resist import Catalogue, load_catalogue
from fhir_resist.fhir.read.population import group_by_patient
from fhir_resist.reevaluation.affected import affected_by, catalogue_change, patient_reach
from tests.conftest import ROOT

MET_RULE = "crc-antiegfr-met-amplification"
JSON = dict[str, Any]


@pytest.fixture(scope="module")
def without_met_rule(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled catalogue without its MET amplification rule."""
    directory = tmp_path_factory.mktemp("catalogue") / "catalogue"
    shutil.copytree(ROOT / "catalogue", directory)
    (directory / "rules" / "crc-antiegfr" / f"{MET_RULE}.yaml").unlink()
    return directory


def _population(catalogue: Catalogue) -> dict[str, list[Mapping[str, Any]]]:
    """Four patients: a panel with MET amplified, a KRAS panel and a wild-type panel without MET
    results, and serial samples in which MET is amplified, then cleared."""
    bundles = [
        generate.panel_report(8, patient_id="met-amp", cat=catalogue, extras=True),
        generate.panel_report(8, patient_id="kras-only", cat=catalogue, extras=False),
        generate.panel_report(8, patient_id="wild-type", cat=catalogue, extras=False, driver=None),
        *generate.serial_reports(8, patient_id="serial"),
    ]
    return group_by_patient(bundles).patients


def test_one_added_rule_selects_exactly_the_patients_it_reads(
    without_met_rule: Path, catalogue: Catalogue
) -> None:
    change = catalogue_change(load_catalogue(without_met_rule), catalogue)
    assert (change.added, change.removed, change.edited, change.others) == ((MET_RULE,), (), (), ())
    selected = {
        patient
        for patient, resources in _population(catalogue).items()
        if affected_by(patient_reach(patient, resources, catalogue), change, catalogue)
    }
    assert selected == {"Patient/met-amp", "Patient/serial"}


def test_a_removed_rule_selects_the_same_patients_and_those_whose_result_cites_it(
    without_met_rule: Path, catalogue: Catalogue
) -> None:
    change = catalogue_change(catalogue, load_catalogue(without_met_rule))
    assert change.removed == (MET_RULE,)
    population = _population(catalogue)
    reach = patient_reach("Patient/kras-only", population["Patient/kras-only"], catalogue)
    assert affected_by(reach, change, catalogue) == ()
    assert affected_by(reach, change, catalogue, cited={MET_RULE, "crc-antiegfr-kras-ext-ras"}) == (MET_RULE,)


def test_an_edited_rule_is_found_and_a_change_elsewhere_affects_everyone(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    directory = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", directory)
    rule = directory / "rules" / "crc-antiegfr" / f"{MET_RULE}.yaml"
    rule.write_text(
        rule.read_text(encoding="utf-8").replace("title: ", "title: Revised ", 1), encoding="utf-8"
    )
    change = catalogue_change(catalogue, load_catalogue(directory))
    assert change.edited == (MET_RULE,) and change.others == ()
    drugs = directory / "drugs.yaml"
    drugs.write_text(
        drugs.read_text(encoding="utf-8").replace("name: cetuximab", "name: Cetuximab", 1), encoding="utf-8"
    )
    change = catalogue_change(catalogue, load_catalogue(directory))
    assert change.others == ("drugs",)
    population = _population(catalogue)
    reach = patient_reach("Patient/wild-type", population["Patient/wild-type"], catalogue)
    assert affected_by(reach, change, catalogue)[0] == "drugs"
