"""How the reader reads what a laboratory did not code: the words of free text (with the cues that
negate or hedge them) and the copy-number cut-offs.

They are knowledge, kept as data in the catalogue (``catalogue/reading.yaml``); the catalogue builds
a ``ReadingRules`` and each entry point hands it to the FHIR reader, which may not import the
catalogue. Without rules the reader reads codes only: free text and bare copy numbers are then
reported as not read, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Terms:
    """The phrases that state one answer (``category``), lower case, words separated by spaces."""

    category: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Cues:
    """What makes a phrase not a statement: negation before it (within ``window`` words) or after
    it, an uncertainty anywhere in the text, and the words that end a clause (a negation does not
    reach across a clause)."""

    negation_before: tuple[str, ...]
    negation_after: tuple[str, ...]
    uncertainty: tuple[str, ...]
    clause_breaks: tuple[str, ...]
    window: int


@dataclass(frozen=True)
class CopyNumberCutoffs:
    """Copy-number direction from a bare copy number (a copy-number-variation change type)."""

    gain_above: float
    loss_below: float
    deletion_below: float


@dataclass(frozen=True)
class ReadingRules:
    cues: Cues
    msi: tuple[Terms, ...]  # high | stable | low
    mmr: tuple[Terms, ...]  # deficient | proficient (immunohistochemistry)
    implication: tuple[Terms, ...]  # resistant | responsive
    specimen: tuple[Terms, ...]  # plasma | tissue
    copy_number: CopyNumberCutoffs
