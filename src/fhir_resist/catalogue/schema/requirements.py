"""requirements.yaml: tests whose result would change the answer, and when they are needed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fhir_resist.catalogue.schema.evidence import CountermeasureEvidence
from fhir_resist.catalogue.schema.rules import TherapyScope
from fhir_resist.catalogue.schema.vocabulary import Id, Model, Text


class TestedPattern(Model):
    kind: Literal["variant", "cnv", "fusion", "msi", "tmb", "expression"]
    gene: str | None = None


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
