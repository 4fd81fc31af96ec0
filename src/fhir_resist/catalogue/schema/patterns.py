"""Alteration patterns: what a finding must look like for a rule, a partner or a condition."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fhir_resist.catalogue.schema.vocabulary import Consequence, Model


class ReversionPattern(Model):
    """The truncating variant a reversion acts on: another variant of the same gene (any sample)."""

    consequences: tuple[Literal["frameshift", "nonsense"], ...] = Field(
        default=("frameshift", "nonsense"), min_length=1
    )
    origin: Literal["somatic", "germline", "any"] = "any"


class AlterationPattern(Model):
    """What a finding must look like to trigger a rule. All given filters must hold."""

    kind: Literal["variant", "cnv", "fusion", "msi", "tmb", "expression"]
    gene: str | None = None
    proteins: tuple[str, ...] = ()
    codons: tuple[int, ...] = ()
    exons: tuple[int, ...] = ()
    consequences: tuple[Consequence, ...] = ()
    origin: Literal["somatic", "germline", "any"] = "any"
    min_vaf: float | None = Field(default=None, ge=0, le=1)
    cnv: Literal["amplification", "gain", "loss", "deletion"] | None = None
    min_copy_number: float | None = Field(default=None, ge=0)
    partner: str | None = None
    msi: Literal["msi-high", "msi-low", "stable"] | None = None
    min_tmb: float | None = Field(default=None, ge=0)
    expression: Literal["loss", "low", "high", "overexpression", "methylated"] | None = None
    # A variant pattern with ``reverts`` matches a second variant that restores the reading frame of
    # a truncating variant of the same gene (engine/reversion.py); only in a rule's alterations.
    reverts: ReversionPattern | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> AlterationPattern:
        needs_gene = self.kind in {"variant", "cnv", "fusion", "expression"}
        if needs_gene and not self.gene:
            raise ValueError(f"a {self.kind} pattern needs a gene")
        if self.kind == "cnv" and self.cnv is None:
            raise ValueError("a cnv pattern needs cnv: amplification | gain | loss | deletion")
        if self.kind == "msi" and self.msi is None:
            raise ValueError("an msi pattern needs msi: msi-high | msi-low | stable")
        if self.kind == "tmb" and self.min_tmb is None:
            raise ValueError("a tmb pattern needs min_tmb")
        if self.kind == "expression" and self.expression is None:
            raise ValueError("an expression pattern needs expression")
        variant_only = self.proteins or self.codons or self.exons or self.consequences
        if variant_only and self.kind != "variant":
            raise ValueError("proteins/codons/exons/consequences apply to variant patterns only")
        if self.reverts is not None and self.kind != "variant":
            raise ValueError("reverts applies to variant patterns only")
        return self


class Requires(Model):
    all_of: tuple[AlterationPattern, ...] = ()
    any_of: tuple[AlterationPattern, ...] = ()  # at least one of these present
    none_of: tuple[AlterationPattern, ...] = ()
    wild_type_tested: tuple[AlterationPattern, ...] = ()
