"""The base of every catalogue model and the closed vocabularies rules are written in."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Effect(StrEnum):
    RESISTANCE = "resistance"
    REDUCED_RESPONSE = "reduced-response"
    NO_KNOWN_EFFECT = "no-known-effect"
    SENSITIVITY = "sensitivity"


class Mechanism(StrEnum):
    ON_TARGET = "on-target"
    BYPASS = "bypass"
    DOWNSTREAM = "downstream"
    PHENOTYPIC = "phenotypic"
    DRUG_EFFLUX = "drug-efflux"
    APOPTOSIS_EVASION = "apoptosis-evasion"
    EPIGENETIC = "epigenetic"
    MICROENVIRONMENT = "microenvironment"
    MISMATCH_REPAIR = "mismatch-repair"


class Timing(StrEnum):
    PRIMARY = "primary"
    ACQUIRED = "acquired"


class Strategy(StrEnum):
    SWITCH = "switch"
    COMBINE = "combine"
    RECHALLENGE = "rechallenge"
    RETEST = "retest"
    CLINICAL_TRIAL = "clinical-trial"
    MONITOR = "monitor"
    INCREASE_DOSE = "increase-dose"


Consequence = Literal[
    "missense",
    "nonsense",
    "frameshift",
    "inframe-deletion",
    "inframe-insertion",
    "inframe-delins",
    "duplication",
    "splice",
    "start-lost",
    "stop-lost",
    "extension",
    "synonymous",
    "truncating",
    "inframe",
]
