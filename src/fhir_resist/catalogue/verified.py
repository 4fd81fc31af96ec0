"""The verified code tables (``catalogue/reference/*.csv``) and the check that every code is in them.

A code in genes.yaml, drugs.yaml or tumours.yaml that no verified row supports is a lint error:
the catalogue never carries a code that was not verified against its sources.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fhir_resist.catalogue.schema import DrugsFile, GenesFile, TumoursFile

_VERIFIED = frozenset({"verified-1-source", "verified-2-sources"})
_ICD = re.compile(r"\b([A-Z]\d{2}(?:\.[0-9A-Z]{1,4})?)\b")


@dataclass(frozen=True)
class VerifiedCodes:
    codes: frozenset[tuple[str, str]]  # (kind, code): ("hgnc", "HGNC:6407"), ("rxnorm", "318341") ...

    def has(self, kind: str, code: str) -> bool:
        return (kind, code) in self.codes


def load_verified(directory: Path) -> VerifiedCodes | None:
    """The verified codes of the tables in ``directory``, or None when there are no tables."""
    if not (directory / "drugs.csv").is_file():
        return None
    found: set[tuple[str, str]] = set()
    for row in _rows(directory / "genes.csv"):
        if row.get("confidence") in _VERIFIED:
            found |= {
                ("hgnc", row["hgnc_id"]),
                ("refseq", row["mane_select_refseq"]),
                ("refseq-protein", row["mane_select_refseq_protein"]),
            }
    for row in _rows(directory / "drugs.csv"):
        if row.get("atc_confidence") in _VERIFIED:
            found |= {("atc", c) for c in _split(row["atc_code"]) + _split(row["atc_superseded_codes"])}
        if row.get("rxnorm_confidence") in _VERIFIED:
            found |= {("rxnorm", c) for c in _split(row["rxnorm_rxcui"])}
        if row.get("ncit_confidence") in _VERIFIED:
            found |= {("ncit", c) for c in _split(row["ncit_code"])}
    for row in _rows(directory / "tumours.csv"):
        if row.get("snomed_confidence") in _VERIFIED:
            found |= {("snomed", c) for c in _split(row["snomed_ct_id"])}
        if row.get("ncit_confidence") in _VERIFIED:
            found |= {("ncit", c) for c in _split(row["ncit_code"])}
        if row.get("oncotree_confidence") in _VERIFIED:
            found |= {("ncit", c) for c in _split(row["oncotree_ncit_xref"])}
        if row.get("icd10cm_confidence") in _VERIFIED:
            found |= {("icd10cm", c) for c in _ICD.findall(row["icd10cm_codes"])}
    return VerifiedCodes(frozenset(c for c in found if c[1]))


def unverified(
    genes: GenesFile, drugs: DrugsFile, tumours: TumoursFile, verified: VerifiedCodes
) -> list[str]:
    """Every code in the reference YAML files that the verified tables do not support."""
    problems: list[str] = []

    def check(file: str, owner: str, kind: str, values: Iterable[str | None]) -> None:
        for value in values:
            if value and not verified.has(kind, value):
                problems.append(
                    f"{file}: {owner}: {kind} code '{value}' is not in the verified tables "
                    "(catalogue/reference); leave it out and say why in 'note'"
                )

    for symbol, gene in genes.genes.items():
        check("genes.yaml", symbol, "hgnc", [gene.hgnc_id])
        if gene.mane_select is not None:
            check("genes.yaml", symbol, "refseq", [gene.mane_select.refseq])
            check("genes.yaml", symbol, "refseq-protein", [gene.mane_select.protein])
    for drug in drugs.drugs:
        check("drugs.yaml", drug.id, "rxnorm", [drug.codes.rxnorm])
        check("drugs.yaml", drug.id, "atc", [*drug.codes.atc, *drug.codes.atc_superseded])
        check("drugs.yaml", drug.id, "ncit", [drug.codes.ncit])
    for node in tumours.tumours:
        check("tumours.yaml", node.code, "snomed", node.snomed)
        check("tumours.yaml", node.code, "ncit", node.ncit)
        check("tumours.yaml", node.code, "icd10cm", node.icd10cm)
    return problems


def _rows(path: Path) -> list[Mapping[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(",", ";").split(";") if part.strip()]
