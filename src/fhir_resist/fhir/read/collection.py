"""Collecting the input: resources (Bundles unpacked) keyed by the reference they are known by,
and the notes every reader adds to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from fhir_resist.domain import Message, Severity
from fhir_resist.fhir.read.elements import JSON, items, string

_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")  # the shape of every FHIR resource type name


@dataclass
class Notes:
    """Messages about the input: what was ignored or not understood, and where."""

    messages: list[Message] = field(default_factory=list)
    # component code -> (its display, the Observations carrying it): what no reader uses
    unread: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def add(self, severity: Severity, where: str, text: str) -> None:
        self.messages.append(Message(severity, where, text))

    def not_read(self, code: str, display: str, ref: str) -> None:
        """A component no reader uses: said once per code for the whole input, not per Observation."""
        self.unread.setdefault(code, (display, []))[1].append(ref)

    def said(self) -> list[Message]:
        """Every message, with one per component code that was not read."""
        unread = [
            Message(
                Severity.INFORMATION,
                f"{refs[0]}.component:{code}",
                f"component {code}{f' ({display})' if display else ''} is not read by fhir_resist"
                f" (in {len(refs)} Observation{'s' if len(refs) > 1 else ''})",
            )
            for code, (display, refs) in sorted(self.unread.items())
        ]
        return [*self.messages, *unread]


@dataclass
class Collected:
    """The input's resources by reference (``Type/id``, or a ``urn:`` fullUrl), in input order."""

    resources: dict[str, JSON] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # fullUrl -> reference
    # reference as written -> normalised: most resources name the same few (the patient, the
    # specimen); emptied whenever an alias is added
    resolved: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def resolve(self, element: object) -> str | None:
        """The normalised target of a Reference element."""
        ref = element.get("reference") if isinstance(element, dict) else None  # reference() inlined
        if not isinstance(ref, str) or not ref:
            return None
        found = self.resolved.get(ref)
        if found is None:
            found = self.resolved[ref] = normalise_reference(ref, self.aliases)
        return found

    def alias(self, full_url: str, ref: str) -> None:
        """A Bundle entry's fullUrl, as another name of ``ref``."""
        self.aliases[full_url] = ref
        self.resolved.clear()

    def resolve_all(self, resource: JSON, key: str) -> tuple[str, ...]:
        """The normalised targets of a list of References."""
        return tuple(ref for ref in (self.resolve(item) for item in items(resource, key)) if ref)

    def get(self, ref: str) -> JSON | None:
        return self.resources.get(normalise_reference(ref, self.aliases))

    def __iter__(self) -> Iterator[tuple[str, JSON]]:
        return ((ref, self.resources[ref]) for ref in self.order)


def collect(resources: Iterable[object], notes: Notes) -> Collected:
    """Every resource of the input, Bundles unpacked; what is not a resource becomes a note."""
    collected = Collected()
    for index, resource in enumerate(resources):
        _collect(collected, notes, resource, where=f"input[{index}]")
    return collected


def _collect(
    collected: Collected, notes: Notes, resource: object, *, where: str, full_url: str | None = None
) -> None:
    if not isinstance(resource, dict):
        notes.add(Severity.ERROR, where, "not a FHIR resource (expected a JSON object)")
        return
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        notes.add(Severity.ERROR, where, "resource has no resourceType; ignored")
        return
    if not _RESOURCE_TYPE.fullmatch(rtype):
        notes.add(Severity.ERROR, f"{where}.resourceType", f"{rtype!r} is not a FHIR resource type; ignored")
        return
    if rtype == "Bundle":
        _collect_bundle(collected, notes, resource, where)
        return
    ref = local_reference(full_url, resource)
    if ref is None:
        ref = f"{rtype}/#{len(collected.order)}"
        notes.add(Severity.WARNING, where, f"{rtype} has no id; referred to as {ref}")
    if full_url:
        collected.alias(full_url, ref)
    if ref in collected.resources:
        if collected.resources[ref] != resource:
            notes.add(Severity.WARNING, ref, "appears twice with different content; the first is used")
        return
    collected.resources[ref] = resource
    collected.order.append(ref)


def _collect_bundle(collected: Collected, notes: Notes, bundle: JSON, where: str) -> None:
    entries = bundle.get("entry")
    if entries is None:
        return
    if not isinstance(entries, list):
        notes.add(Severity.ERROR, f"{where}.entry", "Bundle.entry is not a list; bundle ignored")
        return
    for i, entry in enumerate(entries):
        here = f"{where}.entry[{i}]"
        if not isinstance(entry, dict):
            notes.add(Severity.ERROR, here, "Bundle entry is not an object; ignored")
            continue
        request = entry.get("request")
        if isinstance(request, dict) and request.get("method") == "DELETE":
            continue
        if "resource" not in entry:
            if not isinstance(entry.get("response"), dict):
                notes.add(Severity.WARNING, here, "Bundle entry has no resource; ignored")
            continue
        _collect(
            collected, notes, entry["resource"], where=f"{here}.resource", full_url=string(entry, "fullUrl")
        )


def local_reference(full_url: str | None, resource: JSON) -> str | None:
    """The ``Type/id`` a resource is referenced by, or its ``urn:uuid:`` fullUrl."""
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if isinstance(rtype, str) and isinstance(rid, str) and rid:
        return f"{rtype}/{rid}"
    if isinstance(full_url, str) and full_url.startswith("urn:"):
        return full_url
    return None


def normalise_reference(ref: str, aliases: Mapping[str, str]) -> str:
    """Absolute URLs and urn:uuid references map onto the ``Type/id`` form when known."""
    if ref in aliases:
        return aliases[ref]
    if ref.startswith(("http://", "https://")) and len(parts := ref.rstrip("/").split("/")) >= 2:
        tail = f"{parts[-2]}/{parts[-1]}"
        if parts[-2] == "_history" and len(parts) >= 4:
            tail = f"{parts[-4]}/{parts[-3]}"
        return tail
    if "/_history/" in ref:
        return ref.split("/_history/")[0]
    return ref


def iter_resources(resources: Iterable[JSON]) -> Iterator[JSON]:
    """Every resource, Bundles (nested ones too) unpacked; used where a Bundle arrives over HTTP."""
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            yield from iter_resources(
                e["resource"] for e in items(resource, "entry") if isinstance(e.get("resource"), dict)
            )
        else:
            yield resource
