"""resistance-genes.yaml: loaded, validated and linted like the rest of the catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.errors import CatalogueError
from tests.conftest import ROOT

FILE = "resistance-genes.yaml"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", target)
    return target


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(root)
    return info.value.problems


def _replace(root: Path, old: str, new: str) -> None:
    path = root / FILE
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_every_gene_set_is_loaded_with_evidence(catalogue: Catalogue) -> None:
    ids = [s.id for s in catalogue.resistance_genes]
    assert "vus-braf-mek-mapk" in ids and "vus-egfr-tki-kinase-domain" in ids
    for gene_set in catalogue.resistance_genes:
        assert gene_set.evidence.references
        assert gene_set.rules


def test_the_file_is_required(copy: Path) -> None:
    (copy / FILE).unlink()
    assert any(FILE in p and "cannot read" in p for p in _problems(copy))


def test_unknown_key_is_refused_with_its_line(copy: Path) -> None:
    _replace(
        copy, "    classes: [braf-inhibitor, mek-inhibitor]", "    clases: [braf-inhibitor, mek-inhibitor]"
    )
    assert any(f"{FILE}:" in p and "unknown key" in p for p in _problems(copy))


def test_a_region_needs_a_codon_range_or_exons(copy: Path) -> None:
    _replace(copy, "            codon_end: 979\n", "")
    assert any("a region needs codon_start and codon_end, or exons" in p for p in _problems(copy))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[braf-inhibitor, mek-inhibitor]",
            "[braf-inhibitor, mek-inhibitors]",
            "unknown drug class 'mek-inhibitors'",
        ),
        ("      - gene: MAP2K2\n", "      - gene: MEK2\n", "unknown gene 'MEK2'"),
        ("      - gene: BCL2\n", "      - gene: MAP2K1\n", "MAP2K1: no listed rule names a variant of it"),
        ("rules: [cml-abl1-t315i]", "rules: [cml-abl1-t316i]", "unknown rule 'cml-abl1-t316i'"),
        ("exons: [13, 14, 17, 18]", "exons: [13, 14, 17, 18, 40]", "exons [40] are not in its exon map"),
        ("    tumours: [GIST]", "    tumours: [GISTX]", "unknown OncoTree code 'GISTX'"),
    ],
)
def test_lint_names_what_is_wrong(copy: Path, old: str, new: str, expected: str) -> None:
    _replace(copy, old, new)
    assert any(expected in p for p in _problems(copy)), _problems(copy)
