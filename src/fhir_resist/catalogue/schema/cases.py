"""The cases a rule carries: a small patient and what the rule must then say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fhir_resist.catalogue.schema.vocabulary import Consequence, Id, Model, Text


class CaseAlteration(Model):
    kind: Literal["variant", "cnv", "fusion", "msi", "tmb", "expression"]
    gene: str | None = None
    protein: str | None = None
    coding: str | None = None  # HGVS c. change, e.g. c.5946delT
    consequence: Consequence | None = None
    exon: int | None = None
    origin: Literal["somatic", "germline", "unknown"] = "somatic"
    vaf: float | None = Field(default=None, ge=0, le=1)
    cnv: Literal["amplification", "gain", "loss", "deletion"] | None = None
    copy_number: float | None = None
    partner: str | None = None
    msi: Literal["msi-high", "msi-low", "stable"] | None = None
    tmb: float | None = None
    expression: Literal["loss", "low", "high", "overexpression", "methylated"] | None = None


class Case(Model):
    name: Text
    tumour: str
    drug: Id
    dose: float | None = Field(default=None, gt=0)  # the case drug's structured daily dose, mg/day
    with_: tuple[Id, ...] = Field(default=(), alias="with")  # co-prescribed in the same regimen
    prior: tuple[Id, ...] = ()  # an earlier regimen, stopped before the case's time
    alterations: tuple[CaseAlteration, ...] = ()
    absent: tuple[CaseAlteration, ...] = ()
    expect: Literal["match", "no-match"]
    # With a match: the alert on the case's drug, and the rule's countermeasures by status
    # (each list, when given, is the whole set; names as Countermeasure.key).
    severity: Literal["high", "moderate", "low", "none"] | None = None
    offered: tuple[str, ...] | None = None
    conditional: tuple[str, ...] | None = None
    withheld: tuple[str, ...] | None = None
    # Data requirement codes the assessment must raise (among others it may raise).
    requirements: tuple[str, ...] | None = None
    note: str | None = None
