"""The catalogue's coverage per family, and the README table that must be the command's output."""

from __future__ import annotations

import json
import re

import pytest

from fhir_resist.catalogue import Catalogue
from fhir_resist.catalogue.coverage import biomarker, coverage, family_of, markdown_table
from fhir_resist.catalogue.schema.patterns import AlterationPattern
from fhir_resist.cli import main
from tests.conftest import ROOT

README_TABLE = re.compile(
    r"<!-- coverage table: fhir-resist catalogue stats --markdown -->\n(.*?)\n<!-- end of coverage table -->",
    re.S,
)


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (
            {"kind": "variant", "gene": "KIT", "codons": [654, 670], "consequences": ["missense"]},
            "KIT codons 654, 670 missense",
        ),
        ({"kind": "variant", "gene": "PDGFRA", "proteins": ["D842V"], "origin": "somatic"}, "PDGFRA D842V"),
        ({"kind": "variant", "gene": "KIT", "exons": [9]}, "KIT exon 9"),
        ({"kind": "variant", "gene": "NF1"}, "NF1 variant"),
        (
            {
                "kind": "variant",
                "gene": "BRCA2",
                "origin": "somatic",
                "reverts": {"consequences": ["frameshift"]},
            },
            "BRCA2 reversion of a frameshift",
        ),
        (
            {"kind": "variant", "gene": "FCGR3A", "proteins": ["V158F"], "origin": "germline"},
            "FCGR3A V158F (germline)",
        ),
        ({"kind": "cnv", "gene": "MET", "cnv": "amplification"}, "MET amplification"),
        ({"kind": "fusion", "gene": "ALK", "partner": "EML4"}, "ALK-EML4 fusion"),
        ({"kind": "fusion", "gene": "RET"}, "RET fusion"),
        ({"kind": "expression", "gene": "PTEN", "expression": "loss"}, "PTEN loss (expression)"),
        ({"kind": "msi", "msi": "msi-high"}, "MSI-high"),
        ({"kind": "msi", "msi": "stable"}, "MSS"),
        ({"kind": "tmb", "min_tmb": 10}, "TMB >= 10/Mb"),
    ],
)
def test_biomarker_in_words(pattern: dict[str, object], words: str) -> None:
    assert biomarker(AlterationPattern.model_validate(pattern)) == words


def test_families_are_rule_directories_and_add_up(catalogue: Catalogue) -> None:
    families = {f.family: f for f in coverage(catalogue)}
    assert set(families) == {p.name for p in (ROOT / "catalogue" / "rules").iterdir() if p.is_dir()}
    assert sum(f.rules for f in families.values()) == len(catalogue.rules)
    assert sum(f.cases for f in families.values()) == sum(len(r.cases) for r in catalogue.rules)
    d842v = catalogue.rule("gist-pdgfra-d842v")
    assert d842v is not None and family_of(catalogue, d842v) == "gist-kit"
    gist = families["gist-kit"]
    assert "PDGFRA D842V" in gist.biomarkers and {"KIT", "PDGFRA"} <= set(gist.genes)
    assert "imatinib" in gist.drugs and gist.tumours[0] == "GIST"
    assert sum(count for _, count in gist.levels) == gist.rules


def test_class_members_count_as_drugs_and_except_drugs_do_not(catalogue: Catalogue) -> None:
    egfr = next(f for f in coverage(catalogue) if f.family == "crc-antiegfr")
    assert {"cetuximab", "panitumumab"} <= set(egfr.drugs)  # named as the anti-egfr-mab class


def test_readme_table_is_what_the_command_prints(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    found = README_TABLE.search((ROOT / "catalogue" / "README.md").read_text(encoding="utf-8"))
    assert found, "catalogue/README.md lost its coverage table markers"
    assert main(["catalogue", "stats", "--markdown"]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    assert printed == markdown_table(coverage(catalogue))
    assert found.group(1) == printed, "regenerate the table: fhir-resist catalogue stats --markdown"


def test_stats_json_reports_each_family(catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "stats", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rules"] == {
        "total": len(catalogue.rules),
        "cases": sum(len(r.cases) for r in catalogue.rules),
    }
    gist = data["families"]["gist-kit"]
    assert set(gist) == {"rules", "cases", "biomarkers", "genes", "drugs", "tumours", "levels"}
    assert data["family"]["gist-kit"] == gist["rules"] == sum(gist["levels"].values())


def test_stats_text_names_families(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "stats"]) == 0
    out = capsys.readouterr().out
    assert "family: " in out and "gist-kit " in out


def test_a_pipe_in_a_cell_is_escaped(catalogue: Catalogue) -> None:
    from dataclasses import replace

    fam = replace(coverage(catalogue)[0], biomarkers=("A|B",))
    assert "A\\|B" in markdown_table((fam,))
