"""The catalogue's schema: pydantic models of every YAML file under ``catalogue/``.

Models are frozen and forbid unknown keys, so a typo in the YAML is an error, not a
silently ignored field. ``fhir-resist catalogue schema`` exports them as JSON Schema.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvidenceLevel(StrEnum):
    """AMP/ASCO/CAP levels of evidence (Li et al., J Mol Diagn 2017)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


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
        return self


class Requires(Model):
    all_of: tuple[AlterationPattern, ...] = ()
    any_of: tuple[AlterationPattern, ...] = ()  # at least one of these present
    none_of: tuple[AlterationPattern, ...] = ()
    wild_type_tested: tuple[AlterationPattern, ...] = ()


class Partner(Model):
    """A drug or class that, given in the same regimen, makes the rule's resistance not apply.

    E.g. an anti-EGFR antibody given with a BRAF inhibitor for BRAF V600E (BEACON CRC): the
    combination is the treatment, so the antibody is not flagged. ``only_if`` limits the exception
    to findings of the given shape (a KRAS G12C inhibitor spares the antibody for G12C only).
    """

    classes: tuple[Id, ...] = ()
    drugs: tuple[Id, ...] = ()
    only_if: tuple[AlterationPattern, ...] = ()
    reason: Text

    @model_validator(mode="after")
    def _some(self) -> Partner:
        if not self.classes and not self.drugs:
            raise ValueError("a partner names classes or drugs")
        return self


class TherapyScope(Model):
    classes: tuple[Id, ...] = ()
    drugs: tuple[Id, ...] = ()
    except_drugs: tuple[Id, ...] = ()
    unless_with: tuple[Partner, ...] = ()  # regimens in which the resistance does not apply

    @model_validator(mode="after")
    def _some(self) -> TherapyScope:
        if not self.classes and not self.drugs:
            raise ValueError("therapies needs at least one of classes / drugs")
        return self


class TumourScope(Model):
    include: tuple[str, ...] = Field(min_length=1)
    outside: Literal["lower-severity", "exclude"] = "exclude"


class Evidence(Model):
    level: EvidenceLevel
    summary: Text | None = None
    references: tuple[Reference, ...] = Field(min_length=1)
    departs_from_seed: str | None = None


class CountermeasureEvidence(Model):
    level: EvidenceLevel
    references: tuple[Reference, ...] = ()
    summary: str | None = None


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


Criterion = Annotated[
    PriorTherapy | PriorLines | Biomarker | TumourCondition | FindingTiming | Setting,
    Field(discriminator="fact"),
]


class Countermeasure(Model):
    strategy: Strategy
    drugs: tuple[Id, ...] = ()
    classes: tuple[Id, ...] = ()
    tests: tuple[Text, ...] = ()
    only_if: tuple[AlterationPattern, ...] = ()
    condition: str | None = None  # the human wording of ``requires``
    requires: tuple[Criterion, ...] = ()  # structured conditions, all must hold (engine-checked)
    interval_parameter: str | None = (
        None  # rechallenge: catalogue parameter, minimum days since the last dose
    )
    outcome: Literal["recommended", "failed"] = "recommended"
    evidence: CountermeasureEvidence
    note: str | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Countermeasure:
        needs_drugs = self.strategy in {Strategy.SWITCH, Strategy.COMBINE, Strategy.RECHALLENGE}
        if needs_drugs and not self.drugs and not self.classes:
            raise ValueError(f"a {self.strategy.value} countermeasure names drugs or classes")
        if self.strategy is Strategy.RECHALLENGE and self.interval_parameter is None:
            raise ValueError("a rechallenge countermeasure names its interval_parameter (see catalogue.yaml)")
        if self.strategy is Strategy.RETEST and not self.tests:
            raise ValueError("a retest countermeasure names the tests")
        if self.requires and not self.condition:
            raise ValueError("a countermeasure with requires says them in words in 'condition'")
        return self

    @property
    def key(self) -> str:
        """How cases name it: ``combine encorafenib+cetuximab``, ``switch bevacizumab``, ``retest``."""
        named = "+".join((*self.drugs, *self.classes))
        return f"{self.strategy.value} {named}" if named else self.strategy.value


class CaseAlteration(Model):
    kind: Literal["variant", "cnv", "fusion", "msi", "tmb", "expression"]
    gene: str | None = None
    protein: str | None = None
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
    note: str | None = None


class Rule(Model):
    id: Id
    title: Text
    alterations: tuple[AlterationPattern, ...] = Field(min_length=1)
    requires: Requires = Requires()
    therapies: TherapyScope
    tumours: TumourScope
    effect: Effect
    mechanism: Mechanism
    timing: tuple[Timing, ...] = Field(min_length=1)
    evidence: Evidence
    caveats: tuple[Text, ...] = ()
    countermeasures: tuple[Countermeasure, ...] = ()
    cases: tuple[Case, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _cases_both_ways(self) -> Rule:
        expects = {case.expect for case in self.cases}
        if expects != {"match", "no-match"}:
            raise ValueError("cases need at least one 'match' and one 'no-match'")
        return self


# ------------------------------------------------------------------ reference data


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
    parameters: dict[str, Parameter] = {}


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


def json_schema() -> dict[str, object]:
    """JSON Schema of every catalogue file, keyed by file (published as catalogue/schema.json)."""
    files: dict[str, type[Model]] = {
        "catalogue.yaml": CatalogueMeta,
        "genes.yaml": GenesFile,
        "drugs.yaml": DrugsFile,
        "tumours.yaml": TumoursFile,
        "requirements.yaml": RequirementsFile,
        "rules/<area>/<id>.yaml": Rule,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fhir_resist resistance catalogue",
        "files": {name: model.model_json_schema() for name, model in files.items()},
    }
