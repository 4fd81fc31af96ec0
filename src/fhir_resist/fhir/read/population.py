"""A population's resources grouped by patient, each group the patient's own input.

A resource belongs to the patient it names (a Patient resource, or its ``subject`` / ``patient``
reference); one that names no patient (a Medication, a result listed by a DiagnosticReport, a
member of a grouping Observation) belongs to every patient whose resources refer to it, directly
or through others. Bundles are kept whole where every resource in them is one patient's (the
patient's own file is then read exactly as it would be alone); a Bundle holding several patients
is cut into one Bundle per patient, each entry kept as it was (``fullUrl`` included, so
``urn:uuid:`` references still resolve), and entries about nobody in particular (the
laboratory's Organization, a malformed entry) kept in each.

What cannot be given to a patient is said, not guessed: a finding, report, Condition, Specimen
or therapy that names no patient, and that no patient's resource refers to, would be read as
any patient's if it were given to one (``unattributed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fhir_resist.domain import Message, Severity
from fhir_resist.fhir.read.clinical import THERAPY_TYPES
from fhir_resist.fhir.read.collection import local_reference, normalise_reference
from fhir_resist.fhir.read.elements import JSON, reference, string

# Resource types whose content is about one patient: never given to a patient by guess.
ABOUT_A_PATIENT = frozenset({"Observation", "DiagnosticReport", "Condition", "Specimen", *THERAPY_TYPES})


@dataclass(frozen=True)
class Grouped:
    """Each patient's input (``Patient/id`` -> resources, in input order; patients sorted), and
    what could be given to no patient."""

    patients: dict[str, list[JSON]]
    unattributed: tuple[Message, ...] = ()


@dataclass(eq=False)
class _Node:
    """A resource of the input, or a Bundle with its entries as nodes; ``None`` for an entry that
    holds no usable resource (kept with its Bundle, for the reader to name)."""

    resource: JSON | None
    where: str
    entry: object = None  # the Bundle entry it came from
    full_url: str | None = None
    entries: list[_Node] | None = None  # a Bundle's
    owners: set[str] = field(default_factory=set)
    subject: str | None = None  # what its subject / patient reference names


def group_by_patient(resources: Iterable[JSON]) -> Grouped:
    """The resources grouped by patient. Input that names a single patient is that patient's
    whole input, unchanged; input that names none has no group."""
    given = list(resources)
    tops = [_node(resource, f"input[{i}]") for i, resource in enumerate(given)]
    leaves = [leaf for top in tops for leaf in _leaves(top)]
    aliases = {leaf.full_url: ref for leaf in leaves if leaf.full_url and (ref := _ref(leaf))}
    patients: set[str] = set()
    for leaf in leaves:
        _own(leaf, aliases)
        patients.update(leaf.owners)
    if len(patients) == 1:
        return Grouped({patients.pop(): given})
    _spread(leaves, aliases)
    tops_of: dict[str, list[_Node]] = {patient: [] for patient in patients}
    for top in tops:
        for patient in sorted({owner for leaf in _leaves(top) for owner in leaf.owners}):
            tops_of[patient].append(top)
    groups = {}
    for patient in sorted(patients):
        group = [
            kept for top in tops_of[patient] if (kept := _slice(top, patient, top_level=True)) is not None
        ]
        groups[patient] = group
    malformed = [
        Message(Severity.ERROR, top.where, "not a FHIR resource (no resourceType): not evaluated")
        for top in tops
        if top.resource is None
    ]
    return Grouped(groups, (*malformed, *_unattributed(leaves, patients)))


def _node(resource: object, where: str, entry: object = None, full_url: str | None = None) -> _Node:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return _Node(None, where, entry)
    node = _Node(resource, where, entry, full_url)
    if resource["resourceType"] == "Bundle":
        entries = resource.get("entry")
        node.entries = [
            _node(e.get("resource"), f"{where}.entry[{i}].resource", e, string(e, "fullUrl"))
            if isinstance(e, dict) and not _deleted(e)
            else _Node(None, f"{where}.entry[{i}]", e)
            for i, e in enumerate(entries if isinstance(entries, list) else [])
        ]
    return node


def _deleted(entry: JSON) -> bool:
    request = entry.get("request")
    return isinstance(request, dict) and request.get("method") == "DELETE"


def _leaves(node: _Node) -> Iterator[_Node]:
    if node.entries is None:
        if node.resource is not None:
            yield node
        return
    for entry in node.entries:
        yield from _leaves(entry)


def _ref(leaf: _Node) -> str | None:
    assert leaf.resource is not None
    return local_reference(leaf.full_url, leaf.resource)


def _own(leaf: _Node, aliases: dict[str, str]) -> None:
    """The patient a resource names itself: a Patient, or its subject / patient reference."""
    resource = leaf.resource
    assert resource is not None
    ref = _ref(leaf)
    if resource["resourceType"] == "Patient" and ref and ref.startswith("Patient/"):
        leaf.owners.add(ref)
        return
    target = reference(resource.get("subject") or resource.get("patient"))
    if target is not None:
        leaf.subject = normalise_reference(target, aliases)
        if leaf.subject.startswith("Patient/"):
            leaf.owners.add(leaf.subject)


def _spread(leaves: list[_Node], aliases: dict[str, str]) -> None:
    """Resources that name no patient, and that the reader reads (a finding, a Medication), go to
    the patients whose resources refer to them (and to those their referrers were given to, and
    so on). Only when there are such resources is any resource's content searched."""
    unowned: dict[str, list[_Node]] = {}
    for leaf in leaves:
        if not leaf.owners and _read_type(leaf) and (ref := _ref(leaf)):
            unowned.setdefault(ref, []).append(leaf)
    pending = [leaf for leaf in leaves if leaf.owners] if unowned else []
    while pending:
        leaf = pending.pop()
        for target in references(leaf.resource):
            for other in unowned.get(normalise_reference(target, aliases), ()):
                if not leaf.owners <= other.owners:
                    other.owners |= leaf.owners
                    pending.append(other)


def _read_type(leaf: _Node) -> bool:
    assert leaf.resource is not None
    rtype = leaf.resource["resourceType"]
    return rtype in ABOUT_A_PATIENT or rtype == "Medication"


def references(resource: object) -> list[str]:
    """Every ``reference`` string in a resource (its contained resources' included)."""
    found: list[str] = []
    stack: list[object] = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                found.append(node["reference"])
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, dict | list))
    return found


def _slice(node: _Node, patient: str, *, top_level: bool = False) -> JSON | None:
    """What of ``node`` is ``patient``'s: the resource itself, a Bundle whole or cut to the
    patient's entries, or None. Outside a Bundle, a resource about no patient is nobody's."""
    if node.resource is None:
        return None
    if node.entries is None:
        shared = not node.owners and node.resource["resourceType"] not in ABOUT_A_PATIENT
        return node.resource if patient in node.owners or (shared and not top_level) else None
    kept: list[object] = []
    whole = True
    mine = False
    for child in node.entries:
        part = _slice(child, patient)
        if child.resource is None:
            kept.append(child.entry)  # a malformed entry: each patient's reader names it
        elif part is None:
            whole = False
        else:
            mine = mine or patient in child.owners or child.entries is not None
            whole = whole and part is child.resource
            kept.append(child.entry if part is child.resource else {**_entry(child), "resource": part})
    if not mine:
        return None
    return node.resource if whole else {**node.resource, "entry": kept}


def _entry(child: _Node) -> JSON:
    return child.entry if isinstance(child.entry, dict) else {}


def _unattributed(leaves: list[_Node], patients: set[str]) -> Iterator[Message]:
    for leaf in leaves:
        assert leaf.resource is not None
        rtype = leaf.resource["resourceType"]
        if leaf.owners or rtype not in ABOUT_A_PATIENT:
            continue
        where = _ref(leaf) or leaf.where
        if leaf.subject is None:
            yield Message(
                Severity.ERROR,
                where,
                f"names no patient, and no resource of the {len(patients)} patients in the input refers "
                "to it: not evaluated (it could be any of theirs)",
            )
        else:
            yield Message(Severity.WARNING, where, f"is about {leaf.subject}, not a patient: not evaluated")
