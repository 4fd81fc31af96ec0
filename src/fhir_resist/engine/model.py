"""What an assessment concludes: frozen result objects, independent of FHIR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from fhir_resist.domain import Alteration, Message, Therapy
from fhir_resist.engine.longitudinal import History
from fhir_resist.engine.regimens import Regimen

if TYPE_CHECKING:  # named in annotations only: the results can be imported without the catalogue's models
    from fhir_resist.catalogue.index import Catalogue
    from fhir_resist.catalogue.schema import Countermeasure, Mechanism, ResistanceGeneSet, Rule


class Status(StrEnum):
    SUCCESS = "success"
    DATA_REQUIRED = "data-required"
    FAILURE = "failure"


class IssueSeverity(StrEnum):
    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"


class TimingCall(StrEnum):
    PRIMARY = "primary"
    ACQUIRED = "acquired"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class Finding:
    """A catalogue rule that this patient's alterations trigger."""

    rule: Rule
    alterations: tuple[Alteration, ...]  # the triggering alteration first, then co-conditions
    in_scope: bool  # the tumour is one the rule's evidence is about
    tumour: str | None
    history: History  # every result for the triggering variant/region, oldest first

    @property
    def trigger(self) -> Alteration:
        return self.alterations[0]

    @property
    def observations(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.source for a in self.alterations))


@dataclass(frozen=True, slots=True)
class Issue:
    """A therapy the patient takes or is ordered, and a finding that says it will fail."""

    identifier: str
    therapy: Therapy
    drugs: tuple[str, ...]
    finding: Finding
    severity: IssueSeverity
    timing: TimingCall
    timing_reason: str
    countermeasures: tuple[Recommendation, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class Implication:
    """What the findings mean for a drug class or drug, whether or not the patient takes it."""

    target: str  # class id or drug id
    target_kind: str  # "class" | "drug"
    name: str
    effect: str
    rule_ids: tuple[str, ...]
    evidence_level: str
    observations: tuple[str, ...]


class Offer(StrEnum):
    """What the patient's facts say of a countermeasure."""

    OFFERED = "offered"  # every condition met
    CONDITIONAL = "conditional"  # none fails, some cannot be decided (``why``; ``needs``)
    WITHHELD = "withheld"  # the patient's facts rule it out (``why``)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A countermeasure for this patient, with the findings it answers and what decided it."""

    countermeasure: Countermeasure
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    offer: Offer = Offer.OFFERED
    why: tuple[str, ...] = ()  # withheld: what rules it out; conditional: what must still hold
    needs: tuple[DataRequirement, ...] = ()

    @property
    def key(self) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """What makes two rules' countermeasures one: the same strategy with the same drugs,
        classes or tests. One that names none (a clinical trial, monitoring) is its rule's own."""
        cm = self.countermeasure
        named = cm.drugs or cm.classes or cm.tests
        return (cm.strategy.value, cm.drugs, cm.classes, cm.tests, () if named else self.rule_ids[:1])


@dataclass(frozen=True, slots=True)
class RegimenException:
    """A therapy not alerted because its regimen contains the partner that overcomes the finding."""

    therapy: Therapy
    drugs: tuple[str, ...]
    finding: Finding
    partners: tuple[str, ...]  # the partner drugs in the regimen
    reason: str


# The DetectedIssue code (therapy-implication CodeSystem) of an UncertainIssue.
UNCERTAIN_RESISTANCE = "uncertain-resistance"


@dataclass(frozen=True, slots=True)
class UncertainIssue:
    """A new somatic variant that no rule catalogues, in a gene the catalogue ties to resistance to
    a therapy the patient is on, first seen after that therapy started: uncertain, for expert
    review. Always low severity; never a countermeasure."""

    identifier: str
    therapy: Therapy
    drugs: tuple[str, ...]  # the therapy's drugs the gene sets speak of
    alteration: Alteration  # the latest result showing the variant
    observations: tuple[str, ...]  # every Observation showing it, latest first
    gene_sets: tuple[ResistanceGeneSet, ...]
    mechanism: Mechanism
    timing_reason: str
    detail: str
    severity: IssueSeverity = IssueSeverity.LOW
    timing: TimingCall = TimingCall.ACQUIRED


@dataclass(frozen=True, slots=True)
class DataRequirement:
    code: str
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Assessment:
    patient: str | None
    at: datetime
    catalogue_version: str
    status: Status
    tumour: str | None
    tumour_name: str | None
    findings: tuple[Finding, ...]
    issues: tuple[Issue, ...]
    implications: tuple[Implication, ...]
    countermeasures: tuple[Recommendation, ...]
    data_requirements: tuple[DataRequirement, ...]
    messages: tuple[Message, ...]
    inputs: tuple[str, ...]
    reports: tuple[str, ...]
    preliminary: bool
    catalogue: Catalogue = field(compare=False, repr=False)
    # The therapies assessed, as the input names them (current, past and draft orders).
    therapies: tuple[str, ...] = ()
    # Observations that arrived as results of a DiagnosticReport among the inputs.
    report_results: frozenset[str] = frozenset()
    # Countermeasures the patient's facts rule out, with the reason (never offered).
    withheld: tuple[Recommendation, ...] = ()
    # Therapies not alerted because their regimen contains the finding's partner.
    exceptions: tuple[RegimenException, ...] = ()
    # The regimens formed from the therapies (current and past), as drug-name labels.
    regimens: tuple[Regimen, ...] = ()
    # New uncatalogued variants in resistance genes of current therapies (low, expert review).
    uncertain: tuple[UncertainIssue, ...] = ()
