"""The HGVS components of a variant Observation (protein p., coding c., genomic g.), read as the
sender meant them: an expression in the wrong slot is read by its own prefix, and each one that
does not parse becomes a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fhir_resist import hgvs, terminology
from fhir_resist.domain import Severity
from fhir_resist.errors import HgvsError
from fhir_resist.fhir.read.collection import Notes
from fhir_resist.fhir.read.components import Components, component_text

T = TypeVar("T")

_HGVS_SLOTS = ((terminology.P_HGVS, "p."), (terminology.C_HGVS, "c."), (terminology.G_HGVS, "g."))
# (slot, the kind the slot is for, text, the kind the text is) of one HGVS component
_SlotText = tuple[str, str, str, str | None]


def hgvs_changes(
    ref: str, comps: Components, notes: Notes
) -> tuple[hgvs.ProteinChange | None, hgvs.CodingChange | None]:
    """The protein and coding changes of a variant's HGVS components: for each, the first
    expression of its kind that parses (``_first_parsed``)."""
    slots = _slot_texts(comps)
    if len(slots) == 2:  # the usual report: a p. in the protein slot and a c. in the coding slot
        (_, p_slot, p_text, p_kind), (_, c_slot, c_text, c_kind) = slots
        if p_slot == p_kind == "p." and c_slot == c_kind == "c.":
            try:
                return hgvs.parse_protein(p_text), hgvs.parse_coding(c_text)
            except HgvsError:
                pass  # said by the general reading below
    protein = _first_parsed(ref, slots, "p.", hgvs.parse_protein, notes)
    return protein, _first_parsed(ref, slots, "c.", hgvs.parse_coding, notes)


def missing_changes(
    ref: str,
    comps: Components,
    notes: Notes,
    protein: hgvs.ProteinChange | None,
    coding: hgvs.CodingChange | None,
) -> tuple[hgvs.ProteinChange | None, hgvs.CodingChange | None]:
    """The changes, those still missing (None) read from these components (an STU3 report may
    give the protein change only in a MolecularConsequence Observation)."""
    slots = _slot_texts(comps)
    protein = protein or _first_parsed(ref, slots, "p.", hgvs.parse_protein, notes)
    coding = coding or _first_parsed(ref, slots, "c.", hgvs.parse_coding, notes)
    return protein, coding


def _slot_texts(comps: Components) -> list[_SlotText]:
    """Every HGVS component's text, with its slot and kind, in slot order (p., c., g.)."""
    return [
        (slot, expected, text, _hgvs_kind(text))
        for slot, expected in _HGVS_SLOTS
        for comp in comps.get(slot, ())
        if (text := component_text(comp)) is not None
    ]


def _hgvs_kind(text: str) -> str | None:
    """'p.', 'c.', 'g.' ... for an HGVS string (after any reference), or None when unclear."""
    _, rest = hgvs.split_reference(text.strip())
    return rest[:2] if len(rest) > 2 and rest[1] == "." and rest[0] in "pcgnmr" else None


_PARSED_NAMES = {"p.": ("protein-hgvs", "protein change"), "c.": ("coding-hgvs", "coding change")}


def _first_parsed(
    ref: str, slots: list[_SlotText], prefix: str, parse: Callable[[str], T], notes: Notes
) -> T | None:
    """The first HGVS expression of this kind (``p.`` or ``c.``), wherever the sender put it,
    that parses; each failure, and each expression in the wrong slot, becomes a message."""
    slot_name, what = _PARSED_NAMES[prefix]
    texts: list[str] = []
    for slot, expected, text, kind in slots:
        if kind == prefix or (kind is None and expected == prefix):
            if kind is not None and expected != prefix:
                notes.add(
                    Severity.WARNING,
                    f"{ref}.component:{slot}",
                    f"'{text}' is a {prefix} expression in the {expected} slot; read as {prefix}",
                )
            texts.append(text)
    for text in texts:
        try:
            return parse(text)
        except HgvsError as exc:
            notes.add(Severity.WARNING, f"{ref}.component:{slot_name}", f"{exc}; the {what} is not used")
    return None
