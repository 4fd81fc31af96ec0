"""The facts a countermeasure can require (the ``Criterion`` union), judged by engine/conditions.py."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fhir_resist.catalogue.schema.patterns import AlterationPattern
from fhir_resist.catalogue.schema.vocabulary import Id, Model, Timing


class PriorTherapy(Model):
    """Whether the patient has received (now or before) a drug of these classes or these drugs."""

    fact: Literal["prior-therapy"]
    classes: tuple[Id, ...] = ()
    drugs: tuple[Id, ...] = ()
    received: bool

    @model_validator(mode="after")
    def _some(self) -> PriorTherapy:
        if not self.classes and not self.drugs:
            raise ValueError("a prior-therapy condition names classes or drugs")
        return self


class PriorLines(Model):
    """How many earlier regimens (lines) the patient has had, as recorded."""

    fact: Literal["prior-lines"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> PriorLines:
        if self.min is None and self.max is None:
            raise ValueError("a prior-lines condition needs min or max")
        return self


class Biomarker(Model):
    """A biomarker state: the alteration present, or tested and absent (MSI stable for MSI-high)."""

    fact: Literal["biomarker"]
    alteration: AlterationPattern
    state: Literal["present", "absent"]


class TumourCondition(Model):
    """The cancer type (OncoTree; descendants included)."""

    fact: Literal["tumour"]
    include: tuple[str, ...] = Field(min_length=1)


class FindingTiming(Model):
    """When the finding the countermeasure answers appeared relative to the affected therapy."""

    fact: Literal["finding-timing"]
    timing: Timing


class Setting(Model):
    """A disease setting that must be documented (e.g. radioiodine-refractory disease)."""

    fact: Literal["setting"]
    setting: Literal[
        "adjuvant",
        "metastatic",
        "radioiodine-refractory",
        "histologic-transformation-confirmed",
    ]


class DailyDoseBelow(Model):
    """The patient's current therapy with ``drug`` is at a structured daily dose below ``below_mg``
    mg/day (e.g. an option to raise the dose); not met when no current therapy has the drug."""

    fact: Literal["daily-dose"]
    drug: Id
    below_mg: float = Field(gt=0)


Criterion = Annotated[
    PriorTherapy | PriorLines | Biomarker | TumourCondition | FindingTiming | Setting | DailyDoseBelow,
    Field(discriminator="fact"),
]
