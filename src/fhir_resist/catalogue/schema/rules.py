"""A resistance rule: what it matches, which therapies it affects, and what to do instead."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fhir_resist.catalogue.schema.cases import Case
from fhir_resist.catalogue.schema.conditions import Biomarker, Criterion, DailyDoseBelow
from fhir_resist.catalogue.schema.evidence import CountermeasureEvidence, Evidence
from fhir_resist.catalogue.schema.patterns import AlterationPattern, Requires
from fhir_resist.catalogue.schema.vocabulary import Effect, Id, Mechanism, Model, Strategy, Text, Timing


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


class DoseScope(Model):
    """The daily doses of the rule's one drug that its effect is about: below ``below_mg`` mg/day.
    A therapy at or above it is not affected; one whose structured dose is unknown is undetermined."""

    below_mg: float = Field(gt=0)


class TherapyScope(Model):
    classes: tuple[Id, ...] = ()
    drugs: tuple[Id, ...] = ()
    except_drugs: tuple[Id, ...] = ()
    unless_with: tuple[Partner, ...] = ()  # regimens in which the resistance does not apply
    daily_dose: DoseScope | None = None  # only these daily doses of the drug are affected

    @model_validator(mode="after")
    def _some(self) -> TherapyScope:
        if not self.classes and not self.drugs:
            raise ValueError("therapies needs at least one of classes / drugs")
        if self.daily_dose is not None and (self.classes or len(self.drugs) != 1):
            raise ValueError("a daily_dose scope is in mg of one drug: name exactly one drug and no classes")
        return self


class DoseInstruction(Model):
    """The dose an ``increase-dose`` countermeasure proposes: ``mg`` per administration,
    ``times_per_day`` a day (imatinib 800 mg/day: 400 mg twice a day)."""

    mg: float = Field(gt=0)
    times_per_day: int = Field(ge=1)

    @property
    def daily_mg(self) -> float:
        return self.mg * self.times_per_day

    @property
    def text(self) -> str:
        """``400 mg twice a day (800 mg/day)``."""
        times = {1: "once", 2: "twice"}.get(self.times_per_day, f"{self.times_per_day} times")
        return f"{self.mg:g} mg {times} a day ({self.daily_mg:g} mg/day)"


class TumourScope(Model):
    include: tuple[str, ...] = Field(min_length=1)
    outside: Literal["lower-severity", "exclude"] = "exclude"


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
    dose: DoseInstruction | None = None  # increase-dose: the dose proposed

    @model_validator(mode="after")
    def _dose(self) -> Countermeasure:
        if self.strategy is Strategy.INCREASE_DOSE:
            if self.dose is None or len(self.drugs) != 1 or self.classes:
                raise ValueError("an increase-dose countermeasure names one drug and its dose")
            daily = self.dose.daily_mg
            if not any(
                isinstance(c, DailyDoseBelow) and c.drug == self.drugs[0] and c.below_mg <= daily
                for c in self.requires
            ):
                raise ValueError(
                    "an increase-dose countermeasure requires a daily-dose condition on its drug "
                    f"below the dose it proposes ({daily:g} mg/day): it is for patients on a lower dose"
                )
        elif self.dose is not None:
            raise ValueError("only an increase-dose countermeasure names a dose")
        return self

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

    @model_validator(mode="after")
    def _reverts_in_alterations_only(self) -> Rule:
        elsewhere = (
            *self.requires.all_of,
            *self.requires.any_of,
            *self.requires.none_of,
            *self.requires.wild_type_tested,
            *(p for partner in self.therapies.unless_with for p in partner.only_if),
            *(p for cm in self.countermeasures for p in cm.only_if),
            *(c.alteration for cm in self.countermeasures for c in cm.requires if isinstance(c, Biomarker)),
        )
        if any(p.reverts is not None for p in elsewhere):
            raise ValueError("reverts is allowed in the rule's alterations only")
        return self
