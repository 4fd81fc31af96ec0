"""resistance-genes.yaml: per drug class, the genes (and regions) the catalogue ties to resistance.

A variant that no rule catalogues, found in such a gene after the drug started, is reported as of
uncertain resistance significance for expert review; it never carries a countermeasure.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from fhir_resist.catalogue.schema.evidence import Evidence
from fhir_resist.catalogue.schema.patterns import AlterationPattern
from fhir_resist.catalogue.schema.vocabulary import Id, Mechanism, Model, Text


class Region(Model):
    """Part of a gene, as a codon range of the MANE Select protein or as exons of its exon map."""

    name: Text
    codon_start: int | None = Field(default=None, ge=1)
    codon_end: int | None = Field(default=None, ge=1)
    exons: tuple[int, ...] = ()
    source: Text

    @model_validator(mode="after")
    def _one_kind(self) -> Region:
        span = (self.codon_start, self.codon_end)
        if self.exons and any(v is not None for v in span):
            raise ValueError("a region is a codon range or a list of exons, not both")
        if not self.exons and None in span:
            raise ValueError("a region needs codon_start and codon_end, or exons")
        if self.codon_start is not None and self.codon_end is not None and self.codon_end < self.codon_start:
            raise ValueError("codon_end is before codon_start")
        return self


class ResistanceGene(Model):
    gene: str
    mechanism: Mechanism  # how the catalogued alterations of this gene defeat the drug
    regions: tuple[Region, ...] = ()  # none: the whole gene
    # The drug's own target alterations (e.g. EGFR L858R for an EGFR TKI): the reason the drug is
    # given, never a new resistance variant.
    drug_targets: tuple[AlterationPattern, ...] = ()
    note: str | None = None


class ResistanceGeneSet(Model):
    """Genes whose new, uncatalogued variants are of uncertain resistance significance for a therapy."""

    id: Id
    title: Text
    classes: tuple[Id, ...] = ()
    drugs: tuple[Id, ...] = ()
    tumours: tuple[str, ...] = ("ANY",)  # OncoTree codes (descendants included), ANY, SOLID
    genes: tuple[ResistanceGene, ...] = Field(min_length=1)
    rules: tuple[Id, ...] = Field(min_length=1)  # the rules the genes are derived from
    evidence: Evidence

    @model_validator(mode="after")
    def _names_a_therapy(self) -> ResistanceGeneSet:
        if not self.classes and not self.drugs:
            raise ValueError("name the drug classes or drugs the genes are tied to")
        return self


class ResistanceGenesFile(Model):
    resistance_genes: tuple[ResistanceGeneSet, ...]
