"""Free text read honestly: a phrase counts only when it is stated, not negated ("MSI-high not
detected", "no evidence of resistance") and not hedged ("equivocal", "indeterminate").

Text is lower-cased and cut into words (letters and digits; "MSI-H" is "msi h"), then into
clauses at sentence marks and at the clause-break words. A negation cue negates the phrases up to
``window`` words after it (a cue before) or before it (a cue after), within its clause. Any
uncertainty cue, or two different answers stated, make the whole text not evaluable: an error
here must fall on "not read", never on a finding. The words are the catalogue's
(``catalogue/reading.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from fhir_resist.fhir.read.elements import displays
from fhir_resist.fhir.read.elements import text as text_of
from fhir_resist.reading_rules import Cues, Terms

_SENTENCE = re.compile(r"[.;!?\n]+")
_WORD = re.compile(r"[a-z0-9]+")


class Outcome(StrEnum):
    STATED = "stated"  # one answer, stated
    NEGATED = "negated"  # only negated answers: says what it is not, not what it is
    UNCERTAIN = "uncertain"  # hedged: equivocal, indeterminate, ...
    CONFLICTING = "conflicting"  # two different answers stated
    UNSTATED = "unstated"  # none of the phrases


@dataclass(frozen=True)
class Reading:
    outcome: Outcome
    category: str | None = None  # the answer, when STATED
    stated: tuple[str, ...] = ()  # the phrases stated
    negated: tuple[str, ...] = ()  # the phrases negated
    cue: str | None = None  # the uncertainty cue, or the first negation cue

    def explain(self, text: str) -> str:
        """What the text was read as, quoting it."""
        quoted = f"'{text.strip()}'"
        if self.outcome is Outcome.STATED:
            return f"{quoted} states {', '.join(self.stated)}"
        if self.outcome is Outcome.NEGATED:
            return f"{quoted} negates {', '.join(self.negated)} ('{self.cue}') and states no answer"
        if self.outcome is Outcome.UNCERTAIN:
            return f"{quoted} is uncertain ('{self.cue}')"
        if self.outcome is Outcome.CONFLICTING:
            return f"{quoted} states conflicting answers ({', '.join(self.stated)})"
        return f"{quoted} states none of the known answers"


def said_in(concept: object) -> str:
    """A CodeableConcept's text and the displays of its codings, each its own sentence."""
    return ". ".join(filter(None, [text_of(concept), *displays(concept)]))


def words(text: str) -> tuple[str, ...]:
    """A phrase or text as the words it is matched by."""
    return tuple(_WORD.findall(text.lower()))


def read_phrase(text: str, terms: tuple[Terms, ...], cues: Cues) -> Reading:
    """What ``text`` states among ``terms``, with negation and uncertainty handled."""
    clauses = [c for s in _SENTENCE.split(text.lower()) for c in _clauses(words(s), cues.clause_breaks)]
    uncertain = next((u for c in clauses for u in _found(c, cues.uncertainty)), None)
    if uncertain is not None:
        return Reading(Outcome.UNCERTAIN, cue=uncertain)
    stated: dict[str, str] = {}  # phrase -> category
    negated: list[str] = []
    first_cue: str | None = None
    phrases = [(p, t.category) for t in terms for p in t.phrases]
    for clause in clauses:
        before = _spans(clause, cues.negation_before)
        after = _spans(clause, cues.negation_after)
        for start, end, phrase, category in _terms(clause, phrases):
            cue = next((c for s, e, c in before if e <= start and start - e <= cues.window), None) or next(
                (c for s, e, c in after if s >= end and s - end <= cues.window), None
            )
            if cue is None:
                stated.setdefault(phrase, category)
            else:
                negated.append(phrase)
                first_cue = first_cue or cue
    categories = set(stated.values())
    if len(categories) > 1:
        return Reading(Outcome.CONFLICTING, stated=tuple(stated))
    if categories:
        return Reading(
            Outcome.STATED, category=categories.pop(), stated=tuple(stated), negated=tuple(negated)
        )
    if negated:
        return Reading(Outcome.NEGATED, negated=tuple(dict.fromkeys(negated)), cue=first_cue)
    return Reading(Outcome.UNSTATED)


def _clauses(tokens: tuple[str, ...], breaks: tuple[str, ...]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for token in tokens:
        if token in breaks:
            out.append(())
        else:
            out[-1] += (token,)
    return [c for c in out if c]


def _spans(clause: tuple[str, ...], phrases: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """Where each phrase occurs in the clause (every occurrence, overlaps allowed)."""
    out = []
    for phrase in phrases:
        split = words(phrase)
        n = len(split)
        out += [(i, i + n, phrase) for i in range(len(clause) - n + 1) if n and clause[i : i + n] == split]
    return sorted(out, key=lambda span: span[0] - span[1])  # the longest first: it names the cue


def _found(clause: tuple[str, ...], phrases: tuple[str, ...]) -> list[str]:
    return [phrase for _, _, phrase in _spans(clause, phrases)]


def _terms(clause: tuple[str, ...], phrases: list[tuple[str, str]]) -> list[tuple[int, int, str, str]]:
    """The answer phrases in the clause, left to right, the longest at each place, not overlapping."""
    split = sorted(((words(p), p, c) for p, c in phrases), key=lambda x: -len(x[0]))
    out = []
    i = 0
    while i < len(clause):
        hit = next((s for s in split if s[0] and clause[i : i + len(s[0])] == s[0]), None)
        if hit is None:
            i += 1
            continue
        out.append((i, i + len(hit[0]), hit[1], hit[2]))
        i += len(hit[0])
    return out
