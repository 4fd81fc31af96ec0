"""Loading and linting the catalogue: every problem named with file, line and a fix hint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fhir_resist.catalogue import load_catalogue
from fhir_resist.errors import CatalogueError
from tests.conftest import ROOT


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", target)
    return target


def _a_rule(root: Path) -> Path:
    return sorted((root / "rules").rglob("*.yaml"))[0]


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(root)
    return info.value.problems


def test_bundled_catalogue_loads_and_is_indexed(catalogue: object) -> None:
    from fhir_resist.catalogue import Catalogue

    assert isinstance(catalogue, Catalogue)
    assert catalogue.version
    assert catalogue.rules_for("variant:KRAS")
    assert all(r.cases for r in catalogue.rules)


def test_not_a_catalogue(tmp_path: Path) -> None:
    assert "no catalogue.yaml" in _problems(tmp_path)[0]


def test_yaml_syntax_error_names_file_and_line(copy: Path) -> None:
    rule = _a_rule(copy)
    rule.write_text(rule.read_text() + "\n  bad: [unclosed\n")
    (problem,) = _problems(copy)
    assert rule.name in problem and "not valid YAML" in problem


def test_unknown_key_names_line_and_hint(copy: Path) -> None:
    rule = _a_rule(copy)
    lines = rule.read_text().splitlines()
    lines.insert(1, "titel: typo")
    rule.write_text("\n".join(lines) + "\n")
    (problem,) = _problems(copy)
    assert f"{rule.name}:2:" in problem and "titel" in problem and "unknown key" in problem


def test_unknown_drug_gene_and_tumour_are_reported(copy: Path) -> None:
    rule = _a_rule(copy)
    data = yaml.safe_load(rule.read_text())
    data["therapies"] = {"drugs": ["no-such-drug"]}
    data["alterations"][0]["gene"] = "NOTAGENE"
    data["tumours"]["include"] = ["NOWHERE"]
    rule.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = "\n".join(_problems(copy))
    assert f"{rule.name}:" in problems
    assert any(p.split(": ")[0].rsplit(":", 1)[-1].isdigit() for p in _problems(copy))  # file:line
    assert "unknown drug 'no-such-drug'" in problems
    assert "unknown gene 'NOTAGENE'" in problems
    assert "unknown OncoTree code 'NOWHERE'" in problems


def test_duplicate_rule_id(copy: Path) -> None:
    rule = _a_rule(copy)
    twin = rule.parent / "twin.yaml"
    twin.write_text(rule.read_text())
    problems = "\n".join(_problems(copy))
    assert "duplicate rule id" in problems and "file name must be the rule id" in problems


def test_switching_to_a_drug_the_rule_says_fails_is_refused(copy: Path) -> None:
    for path in sorted((copy / "rules").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data["effect"] == "resistance" and data["therapies"].get("drugs"):
            drug = data["therapies"]["drugs"][0]
            break
        if data["effect"] == "resistance" and data["therapies"].get("classes"):
            drug = None
            break
    else:
        pytest.fail("no resistance rule in the catalogue")
    if drug is None:
        catalogue = load_catalogue(ROOT / "catalogue")
        drug = sorted(catalogue.class_members(data["therapies"]["classes"][0]))[0]
    data["countermeasures"] = [{"strategy": "switch", "drugs": [drug], "evidence": {"level": "A"}}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert any("which this rule says fails" in p for p in _problems(copy))


def test_rule_without_references_is_refused(copy: Path) -> None:
    rule = _a_rule(copy)
    data = yaml.safe_load(rule.read_text())
    data["evidence"]["references"] = []
    rule.write_text(yaml.safe_dump(data, sort_keys=False))
    assert any("evidence.references" in p for p in _problems(copy))


def test_rule_needs_match_and_no_match_cases(copy: Path) -> None:
    rule = _a_rule(copy)
    data = yaml.safe_load(rule.read_text())
    data["cases"] = [c for c in data["cases"] if c["expect"] == "match"] * 2
    rule.write_text(yaml.safe_dump(data, sort_keys=False))
    assert any("no-match" in p for p in _problems(copy))


def test_a_code_not_in_the_verified_tables_is_refused(copy: Path) -> None:
    drugs = copy / "drugs.yaml"
    drugs.write_text(drugs.read_text().replace('rxnorm: "318341"', 'rxnorm: "999999"', 1))
    assert any("rxnorm code '999999' is not in the verified tables" in p for p in _problems(copy))


def test_missing_verified_tables_are_reported(copy: Path) -> None:
    shutil.rmtree(copy / "reference")
    assert any("verified code tables are missing" in p for p in _problems(copy))


def test_exon_maps_are_merged_into_genes(catalogue: object) -> None:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.engine.match import exon_of

    assert isinstance(catalogue, Catalogue)
    assert exon_of(catalogue.genes["KRAS"], 12) == 2
    assert exon_of(catalogue.genes["KRAS"], 146) == 4
    assert exon_of(catalogue.genes["EGFR"], 858) == 21
    assert exon_of(catalogue.genes["BRAF"], 600) == 15
    exon10 = next(e for e in catalogue.genes["PIK3CA"].exons if e.number == 10)
    assert exon10.codon_start <= 545 <= exon10.codon_end
    assert exon10.clinical_name == "exon 9 (legacy)"


@pytest.mark.parametrize(
    ("gene", "codon", "exon"),
    [
        ("KIT", 502, 9),  # A502_Y503dup
        ("KIT", 503, 9),
        ("KIT", 557, 11),  # W557
        ("KIT", 559, 11),  # V559
        ("KIT", 654, 13),  # V654A
        ("KIT", 816, 17),  # D816V
        ("KIT", 822, 17),  # N822K
        ("KIT", 976, 21),  # last amino acid
    ],
)
def test_exon_map_hotspots_of_later_added_genes(catalogue: object, gene: str, codon: int, exon: int) -> None:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.engine.match import exon_of

    assert isinstance(catalogue, Catalogue)
    assert exon_of(catalogue.genes[gene], codon) == exon


def test_genes_without_a_verified_exon_map_have_none(catalogue: object) -> None:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.engine.match import exon_of

    assert isinstance(catalogue, Catalogue)
    for gene in ("NRAS", "ERBB2", "MET"):
        assert exon_of(catalogue.genes[gene], 12) is None


def test_exon_map_on_a_non_mane_transcript_is_refused(copy: Path) -> None:
    exons = copy / "exons.yaml"
    exons.write_text(exons.read_text().replace("transcript: NM_004985.5", "transcript: NM_033360.4", 1))
    assert any("is not the gene's MANE Select transcript" in p for p in _problems(copy))


def test_engine_parameters_must_exist(copy: Path) -> None:
    meta = copy / "catalogue.yaml"
    meta.write_text(meta.read_text().replace("subclonal-tissue-vaf:", "subclonal-tissue-vaf-renamed:"))
    assert any("'subclonal-tissue-vaf' is missing" in p for p in _problems(copy))


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        ("http://snomed.info/sct", "363406005", "COAD"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "C18.7", "COAD"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "C20", "READ"),
        ("http://terminology.hl7.org/CodeSystem/icd-o-3", "C34.1", "LUNG"),
        ("http://terminology.hl7.org/CodeSystem/icd-o-3", "8140/3", None),
        ("http://oncotree.mskcc.org", "luad", "LUAD"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "I10", None),
    ],
)
def test_tumour_resolution(catalogue: object, system: str, code: str, expected: str | None) -> None:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.domain import Coding

    assert isinstance(catalogue, Catalogue)
    assert catalogue.resolve_tumour([Coding(system, code)]) == expected


def test_a_file_that_is_not_utf8_is_named(copy: Path) -> None:
    rule = _a_rule(copy)
    rule.write_bytes(rule.read_bytes() + b"\nnote: caf\xe9\n")
    (problem,) = _problems(copy)
    assert rule.name in problem and "not UTF-8 text" in problem


def test_an_unknown_drug_in_a_dose_condition_is_reported(copy: Path) -> None:
    rule = copy / "rules" / "gist-kit" / "gist-kit-exon9-imatinib-dose.yaml"
    data = yaml.safe_load(rule.read_text())
    condition = {"fact": "daily-dose", "drug": "no-such-drug", "below_mg": 5}
    data["countermeasures"][0]["requires"].append(condition)
    rule.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = "\n".join(_problems(copy))
    assert "countermeasures[0].requires[2]: unknown drug 'no-such-drug'" in problems
