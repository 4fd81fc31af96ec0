"""Frozen domain models: what fhir_resist understood of a patient's FHIR data.

These are independent of FHIR shapes and of the catalogue: the reader fills them from
resources, the engine reads them. Codes stay as codings here; the engine resolves them
against the catalogue (genes, drugs, tumours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from fhir_resist.frozen import fast_init
from fhir_resist.hgvs import CodingChange, ProteinChange


class Kind(StrEnum):
    VARIANT = "variant"
    CNV = "cnv"
    FUSION = "fusion"
    MSI = "msi"
    TMB = "tmb"
    EXPRESSION = "expression"


class Call(StrEnum):
    """Whether the report says the alteration is there. No-call is never kept as a finding."""

    PRESENT = "present"
    ABSENT = "absent"


class Origin(StrEnum):
    SOMATIC = "somatic"
    GERMLINE = "germline"
    UNKNOWN = "unknown"


class CnvCall(StrEnum):
    AMPLIFICATION = "amplification"
    GAIN = "gain"
    LOSS = "loss"
    DELETION = "deletion"  # homozygous / deep deletion


class MsiStatus(StrEnum):
    HIGH = "msi-high"
    LOW = "msi-low"
    STABLE = "stable"


class SpecimenType(StrEnum):
    TISSUE = "tissue"
    PLASMA = "plasma"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """Something about the input that was ignored or not understood, and where it was."""

    severity: Severity
    where: str
    text: str


@fast_init  # one per finding read: set through the slots (fhir_resist/frozen.py)
@dataclass(frozen=True, slots=True)
class Alteration:
    """One genomic finding (or pertinent negative) as reported by one Observation."""

    kind: Kind
    call: Call
    source: str  # the Observation reference as the input names it, e.g. "Observation/v-kras"
    gene: str | None = None  # symbol as reported (upper case); resolved by the engine
    hgnc_id: str | None = None
    transcript: str | None = None  # RefSeq transcript of the c. change, e.g. NM_004985.5
    protein: ProteinChange | None = None
    coding: CodingChange | None = None
    codon: int | None = None  # from the protein change, else derived from the c. change
    exon: int | None = None
    consequence: str | None = None
    origin: Origin = Origin.UNKNOWN
    vaf: float | None = None  # as a fraction 0..1
    cnv: CnvCall | None = None
    copy_number: float | None = None
    partner: str | None = None
    msi: MsiStatus | None = None
    tmb: float | None = None
    expression: str | None = None
    specimen: str | None = None  # Specimen reference
    report: str | None = None  # DiagnosticReport reference
    observed: date | None = None  # effective date of the Observation
    preliminary: bool = False
    label: str = ""  # human-readable, e.g. "KRAS p.G12D"
    partner_hgnc_id: str | None = None  # a fusion partner's HGNC id, when the report gives it


@dataclass(frozen=True, slots=True)
class LabImplication:
    """A therapeutic implication the laboratory itself reported (input, not truth)."""

    source: str
    derived_from: tuple[str, ...]  # the findings it is about
    drug_codings: tuple[Coding, ...]
    drug_text: str | None
    assertion: str  # "resistant" | "responsive" | "other"
    text: str


@dataclass(frozen=True, slots=True)
class DailyDose:
    """A therapy's structured daily dose in mg: a range when the dosage gives one (a dose range, a
    frequency up to ``frequencyMax``), else ``low_mg == high_mg``."""

    low_mg: float
    high_mg: float

    @property
    def label(self) -> str:
        if self.low_mg == self.high_mg:
            return f"{self.low_mg:g} mg/day"
        return f"{self.low_mg:g}-{self.high_mg:g} mg/day"


@dataclass(frozen=True, slots=True)
class Therapy:
    """A drug the patient takes, took, or is being ordered."""

    source: str  # e.g. "MedicationRequest/mr-cetux", exactly as the input names it
    resource_type: str
    status: str
    codings: tuple[Coding, ...]
    text: str | None
    start: date | None = None
    end: date | None = None
    proposed: bool = False  # a draft order or a plan: not yet given
    # What ties it to other therapies given with it: basedOn / partOf references (a CarePlan,
    # a RequestGroup, a parent request) and groupIdentifier ("system|value").
    groups: tuple[str, ...] = ()
    # The structured daily dose (dosageInstruction / dosage), None when not stated in mg or not
    # readable; never taken from the dosage text.
    daily_dose: DailyDose | None = None

    @property
    def label(self) -> str:
        if self.text:
            return self.text
        for coding in self.codings:
            if coding.display:
                return coding.display
        return self.source


@dataclass(frozen=True, slots=True)
class Tumour:
    source: str
    codings: tuple[Coding, ...]
    text: str | None = None
    role: str = "unknown"  # "primary" | "secondary" (a metastasis, mCODE) | "unknown"


@dataclass(frozen=True, slots=True)
class Specimen:
    source: str
    type: SpecimenType = SpecimenType.UNKNOWN
    collected: date | None = None
    tumour_fraction: float | None = None


@dataclass(frozen=True, slots=True)
class GeneScope:
    """What one report says it studied in one gene: the whole gene, or some exons or codons.

    Nothing here is assumed: a gene named with no region is ``whole_gene`` only when the source
    says the region studied is the gene (GenomicStudyAnalysis regions, a RegionStudied
    Observation with no ranges); ranges that cannot be placed on exons leave it all empty and say
    so in ``unreadable``.
    """

    source: str  # the resource that says so (a RegionStudied Observation, a GenomicStudyAnalysis)
    gene: str | None  # symbol as reported (upper case); resolved by the engine
    hgnc_id: str | None = None
    whole_gene: bool = False
    exons: tuple[int, ...] = ()
    codons: tuple[int, ...] = ()
    kinds: tuple[Kind, ...] = ()  # the kinds of change assessed; empty when not stated
    unreadable: str | None = None  # a scope stated in a form not read here, and why


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one genomic report says it studied. ``stated`` is False when it says nothing about
    its scope: its negatives then count only for what each names itself (unknown, not everything)."""

    genes: tuple[GeneScope, ...] = ()
    kinds: tuple[Kind, ...] = ()  # change kinds assessed by the study as a whole (GenomicStudyAnalysis)
    unreadable: tuple[str, ...] = ()  # scope stated in a form not read here (BED files, coordinates)
    uncallable: tuple[str, ...] = ()  # uncallable regions stated (as the report names them)

    @property
    def stated(self) -> bool:
        return bool(self.genes or self.kinds or self.unreadable or self.uncallable)


@dataclass(frozen=True, slots=True)
class GenomicReport:
    source: str
    status: str
    issued: date | None = None
    effective: date | None = None
    specimens: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    coverage: Coverage = field(default_factory=Coverage)  # what the report says it studied


@dataclass(frozen=True, slots=True)
class PatientContext:
    """Everything the engine needs, and every message about what could not be used."""

    patient: str | None
    alterations: tuple[Alteration, ...] = ()
    therapies: tuple[Therapy, ...] = ()
    tumours: tuple[Tumour, ...] = ()
    specimens: tuple[Specimen, ...] = ()
    reports: tuple[GenomicReport, ...] = ()
    messages: tuple[Message, ...] = ()
    tumour_override: str | None = None  # an OncoTree code given by the caller
    patients: tuple[str, ...] = ()  # every patient the input speaks of (one is evaluated)
    lab_implications: tuple[LabImplication, ...] = ()
    inputs: tuple[str, ...] = field(default=())  # references of every input resource used

    def specimen(self, reference: str | None) -> Specimen | None:
        if reference is None:
            return None
        return next((s for s in self.specimens if s.source == reference), None)

    def report(self, reference: str | None) -> GenomicReport | None:
        if reference is None:
            return None
        return next((r for r in self.reports if r.source == reference), None)
