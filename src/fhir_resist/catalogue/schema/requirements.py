"""requirements.yaml: tests whose result would change the answer, and when they are needed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fhir_resist.catalogue.schema.evidence import CountermeasureEvidence
from fhir_resist.catalogue.schema.rules import TherapyScope
from fhir_resist.catalogue.schema.vocabulary import Id, Model, Text


class TestedPattern(Model):
    """A gene or biomarker that must have been tested; for variants, optionally the exons and
    codons the test must have covered (a negative covering less is not a negative)."""

    kind: Literal["variant", "cnv", "fusion", "msi", "tmb", "expression"]
    gene: str | None = None
    exons: tuple[int, ...] = ()  # exon numbers of the gene's MANE Select transcript
    codons: tuple[int, ...] = ()  # protein positions

    @model_validator(mode="after")
    def _regions_need_a_variant_gene(self) -> TestedPattern:
        if (self.exons or self.codons) and (self.kind != "variant" or not self.gene):
            raise ValueError("exons/codons apply to variant patterns with a gene only")
        return self


class RequirementRule(Model):
    """A test whose result would change the answer, and when it is needed."""

    id: Id
    title: Text
    tumours: tuple[str, ...] = Field(min_length=1)
    therapies: TherapyScope | None = None  # needed only for patients on/ordered these
    after_acquired_resistance: bool = (
        False  # only once resistance to those therapies was acquired (progression)
    )
    tested: tuple[TestedPattern, ...] = Field(min_length=1)
    evidence: CountermeasureEvidence


class RequirementsFile(Model):
    requirements: tuple[RequirementRule, ...]
