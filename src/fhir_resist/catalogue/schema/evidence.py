"""Levels of evidence, references, and the evidence behind rules and countermeasures."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from fhir_resist.catalogue.schema.vocabulary import Model, Text


class EvidenceLevel(StrEnum):
    """AMP/ASCO/CAP levels of evidence (Li et al., J Mol Diagn 2017)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Reference(Model):
    seed: str | None = None
    section: str | None = None
    trial: str | None = None
    guideline: str | None = None
    pmid: Annotated[str, StringConstraints(pattern=r"^\d{6,9}$")] | None = None
    doi: str | None = None
    text: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Reference:
        if not any((self.seed, self.trial, self.guideline, self.pmid, self.doi, self.text)):
            raise ValueError("a reference needs one of seed, trial, guideline, pmid, doi, text")
        return self

    def label(self) -> str:
        if self.seed:
            return f"seed {self.seed}" + (f", {self.section}" if self.section else "")
        if self.pmid:
            return f"PMID {self.pmid}"
        return self.trial or self.guideline or self.doi or self.text or ""


class Evidence(Model):
    level: EvidenceLevel
    summary: Text | None = None
    references: tuple[Reference, ...] = Field(min_length=1)
    departs_from_seed: str | None = None


class CountermeasureEvidence(Model):
    level: EvidenceLevel
    references: tuple[Reference, ...] = ()
    summary: str | None = None
