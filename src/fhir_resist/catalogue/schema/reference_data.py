"""The files rules refer to: catalogue.yaml (version, parameters), genes, drugs and tumours."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from fhir_resist.catalogue.schema.evidence import Reference
from fhir_resist.catalogue.schema.vocabulary import Id, Model, Text


class Mane(Model):
    refseq: str | None = None
    protein: str | None = None
    ensembl: str | None = None


class Exon(Model):
    number: int
    codon_start: int = Field(ge=1)
    codon_end: int = Field(ge=1)
    clinical_name: str | None = None  # e.g. "exon 9 (legacy)" where clinicians number differently


class ExonMap(Model):
    transcript: str
    source: Text
    checked_against: Text
    exons: tuple[Exon, ...] = Field(min_length=1)
    note: str | None = None


class ExonsFile(Model):
    exons: dict[str, ExonMap]


class Gene(Model):
    hgnc_id: Annotated[str, StringConstraints(pattern=r"^HGNC:\d+$")] | None = None
    name: str | None = None
    ncbi_gene: str | None = None
    chromosome: str | None = None
    previous_symbols: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    mane_select: Mane | None = None
    mane_plus_clinical: tuple[str, ...] = ()
    exons: tuple[Exon, ...] = ()
    note: str | None = None


class GenesFile(Model):
    genes: dict[str, Gene]


class DrugCodes(Model):
    rxnorm: str | None = None
    atc: tuple[str, ...] = ()
    atc_superseded: tuple[str, ...] = ()
    ncit: str | None = None


class DrugClass(Model):
    id: Id
    name: Text
    note: str | None = None


class Drug(Model):
    id: Id
    name: Text
    classes: tuple[Id, ...] = ()
    codes: DrugCodes = DrugCodes()
    components: tuple[Id, ...] = ()
    synonyms: tuple[str, ...] = ()
    note: str | None = None


class DrugsFile(Model):
    classes: tuple[DrugClass, ...]
    drugs: tuple[Drug, ...]


class TumourNode(Model):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]+$")]
    name: Text
    parent: str | None = None
    solid: bool = True
    snomed: tuple[str, ...] = ()
    icd10cm: tuple[str, ...] = ()
    ncit: tuple[str, ...] = ()
    note: str | None = None


class TumoursFile(Model):
    tumours: tuple[TumourNode, ...]


class Parameter(Model):
    value: float
    unit: str
    summary: str
    references: tuple[Reference, ...] = Field(min_length=1)


class CatalogueMeta(Model):
    version: Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
    date: dt.date
    title: Text
    publisher: Text
    evidence_scheme: Text
    parameters: dict[str, Parameter] = {}  # noqa: RUF012 (pydantic copies field defaults)
