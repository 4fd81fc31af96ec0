"""``reading.yaml``: the words the reader reads free text with, and the copy-number cut-offs.

Every phrase is lower-case words (letters and digits) separated by a space or a hyphen, matched
word by word ("msi-h" matches "MSI-H" and "MSI H"). A phrase in two answers of one list, or a
phrase that is also a cue, is an error: it could never be read one way.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from fhir_resist.catalogue.schema.evidence import Reference
from fhir_resist.catalogue.schema.vocabulary import Model, Text
from fhir_resist.reading_rules import CopyNumberCutoffs, Cues, ReadingRules, Terms

Phrase = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([ -][a-z0-9]+)*$")]
Phrases = tuple[Phrase, ...]


class CueWords(Model):
    negation_before: Phrases = Field(min_length=1)
    negation_after: Phrases = Field(min_length=1)
    uncertainty: Phrases = Field(min_length=1)
    clause_breaks: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z]+$")], ...] = ()
    window_words: int = Field(ge=0, le=10)


class MsiWords(Model):
    high: Phrases = Field(min_length=1)
    stable: Phrases = Field(min_length=1)
    low: Phrases = Field(min_length=1)


class MmrWords(Model):
    deficient: Phrases = Field(min_length=1)
    proficient: Phrases = Field(min_length=1)


class ImplicationWords(Model):
    resistant: Phrases = Field(min_length=1)
    responsive: Phrases = Field(min_length=1)


class SpecimenWords(Model):
    plasma: Phrases = Field(min_length=1)
    tissue: Phrases = Field(min_length=1)


class CopyNumber(Model):
    gain_above: float = Field(gt=0)
    loss_below: float = Field(gt=0)
    deletion_below: float = Field(gt=0)
    summary: Text
    references: tuple[Reference, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> CopyNumber:
        if not self.deletion_below <= self.loss_below <= self.gain_above:
            raise ValueError("copy-number cut-offs must satisfy deletion_below <= loss_below <= gain_above")
        return self


def _words(phrase: str) -> str:
    return phrase.replace("-", " ")


class ReadingFile(Model):
    summary: Text
    cues: CueWords
    msi: MsiWords
    mmr: MmrWords
    implication: ImplicationWords
    specimen: SpecimenWords
    copy_number: CopyNumber

    @model_validator(mode="after")
    def _unambiguous(self) -> ReadingFile:
        cues = {
            _words(p) for p in (*self.cues.negation_before, *self.cues.negation_after, *self.cues.uncertainty)
        }
        problems = []
        for name, lists in (
            ("msi", self.msi),
            ("mmr", self.mmr),
            ("implication", self.implication),
            ("specimen", self.specimen),
        ):
            seen: dict[str, str] = {}
            for category, phrases in lists:
                for phrase in phrases:
                    key = _words(phrase)
                    if key in seen and seen[key] != category:
                        problems.append(f"{name}: '{phrase}' is both {seen[key]} and {category}")
                    if key in cues:
                        problems.append(f"{name}.{category}: '{phrase}' is also a cue")
                    seen[key] = category
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rules(self) -> ReadingRules:
        """The rules the FHIR reader is given."""

        def terms(lists: Model) -> tuple[Terms, ...]:
            return tuple(Terms(category, tuple(phrases)) for category, phrases in lists)

        return ReadingRules(
            cues=Cues(
                negation_before=self.cues.negation_before,
                negation_after=self.cues.negation_after,
                uncertainty=self.cues.uncertainty,
                clause_breaks=self.cues.clause_breaks,
                window=self.cues.window_words,
            ),
            msi=terms(self.msi),
            mmr=terms(self.mmr),
            implication=terms(self.implication),
            specimen=terms(self.specimen),
            copy_number=CopyNumberCutoffs(
                gain_above=self.copy_number.gain_above,
                loss_below=self.copy_number.loss_below,
                deletion_below=self.copy_number.deletion_below,
            ),
        )
