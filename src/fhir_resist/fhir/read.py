"""Read FHIR R4 resources (plain dicts) into a PatientContext.

Tolerant by design: a resource or element that cannot be used becomes a ``Message`` naming
the resource and element, and everything else is still read. Nothing here raises on content.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from fhir_resist import hgvs
from fhir_resist.domain import (
    Alteration,
    Call,
    CnvCall,
    Coding,
    GenomicReport,
    Kind,
    LabImplication,
    Message,
    MsiStatus,
    Origin,
    PatientContext,
    Severity,
    Specimen,
    SpecimenType,
    Therapy,
    Tumour,
)
from fhir_resist.errors import HgvsError
from fhir_resist.fhir import codes

JSON = Mapping[str, Any]
T = TypeVar("T")

_IGNORED_STATUS = frozenset({"entered-in-error", "cancelled"})
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_THERAPY_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")
# MedicationRequest/Statement/Administration statuses that still describe a drug in use or planned.
_PROPOSED_INTENTS = frozenset({"proposal", "plan"})
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")  # the shape of every FHIR resource type name
_HGVS_SLOTS = ((codes.P_HGVS, "p."), (codes.C_HGVS, "c."), (codes.G_HGVS, "g."))
# What fhir_resist reads that is about one patient (subject/patient), so must be about this one.
_ABOUT_A_PATIENT = frozenset({"Observation", "DiagnosticReport", "Condition", "Specimen", *_THERAPY_TYPES})


def read_context(
    resources: Iterable[JSON], *, tumour_override: str | None = None, patient: str | None = None
) -> PatientContext:
    """Read resources (Bundles are unpacked) into one patient's context.

    With several patients in the input, ``patient`` (``Patient/ID`` or ``ID``) chooses one; without
    it the first in sorted order is used and an error message says so.
    """
    _last.pair = None
    reader = _Reader()
    for index, resource in enumerate(resources):
        reader.collect(resource, where=f"input[{index}]")
    return reader.context(tumour_override, patient)


# --------------------------------------------------------------------------- small helpers


def parse_date(value: object) -> date | None:
    """The date part of a FHIR date/dateTime/instant; partial dates take the first day."""
    return _parse_date(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1024)
def _parse_date(value: str) -> date | None:
    """Dates repeat across a report's Observations: each is read once."""
    match = _DATE.match(value)
    if match is None:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _items(obj: object, key: str) -> list[JSON]:
    """The objects in a list-valued element; anything else there is treated as absent."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _obj(obj: object, key: str) -> JSON:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _str(obj: object, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def codings(concept: object) -> tuple[Coding, ...]:
    if not isinstance(concept, dict):
        return ()
    value = concept.get("coding")
    items = value if type(value) is list else [value] if isinstance(value, dict) else ()
    out = []
    for item in items:
        if isinstance(item, dict):
            system, code, display = item.get("system"), item.get("code"), item.get("display")
            out.append(
                _coding(
                    system if isinstance(system, str) else None,
                    code if isinstance(code, str) else None,
                    display if isinstance(display, str) else None,
                )
            )
    return tuple(out)


def code_list(concept: object) -> list[str]:
    """The string codes of a CodeableConcept's codings, in order: what ``codings`` gives, without
    building Coding objects, for the many places that look only at codes."""
    if not isinstance(concept, dict):
        return []
    value = concept.get("coding")
    if type(value) is list:
        return [
            code for item in value if isinstance(item, dict) and isinstance(code := item.get("code"), str)
        ]
    if isinstance(value, dict):
        code = value.get("code")
        return [code] if isinstance(code, str) else []
    return []


@functools.lru_cache(maxsize=16384)
def _coding(system: str | None, code: str | None, display: str | None) -> Coding:
    """Codings repeat across a report (the same LOINC codes on every Observation): build each once."""
    return Coding(codes.canonical_system(system) if system is not None else None, code, display)


def _text(concept: object) -> str | None:
    if isinstance(concept, dict):
        text = concept.get("text")
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


_last = threading.local()  # the concept _has_code last read, and its codings (one read at a time)


def _has_code(concept: object, code: str, system: str | None = None) -> bool:
    """Whether a concept carries the code. The same concept is usually tested against several
    codes in a row, so its codings are kept for the next test (identity-checked, per thread, and
    dropped when a read starts)."""
    last = getattr(_last, "pair", None)
    if last is not None and last[0] is concept:
        found = last[1]
    else:
        found = codings(concept)
        _last.pair = (concept, found)
    return any(c.code == code and (system is None or c.system == system) for c in found)


def _ref(value: object) -> str | None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return ref
    return None


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
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2 and ref.startswith(("http://", "https://")):
        tail = f"{parts[-2]}/{parts[-1]}"
        if parts[-2] == "_history" and len(parts) >= 4:
            tail = f"{parts[-4]}/{parts[-3]}"
        return tail
    if "/_history/" in ref:
        return ref.split("/_history/")[0]
    return ref


# --------------------------------------------------------------------------- reader


@dataclass
class _Found:
    alterations: list[Alteration] = field(default_factory=list)
    therapies: list[Therapy] = field(default_factory=list)
    tumours: list[Tumour] = field(default_factory=list)
    specimens: list[Specimen] = field(default_factory=list)
    reports: list[GenomicReport] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    lab_implications: list[LabImplication] = field(default_factory=list)


@dataclass
class _Reader:
    resources: dict[str, JSON] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    # variant ref -> its MolecularConsequences; specimen ref -> reported tumour fraction
    consequences: dict[str, list[JSON]] = field(default_factory=dict)
    fractions: dict[str, float] = field(default_factory=dict)
    _kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    _normalised: dict[str, str] = field(default_factory=dict)  # filled once collecting is over

    def kind_of(self, ref: str, res: JSON) -> frozenset[str]:
        """The Observation's kinds, classified once per read."""
        kinds = self._kinds.get(ref)
        if kinds is None:
            kinds = self._kinds[ref] = observation_kinds(res)
        return kinds

    def note(self, severity: Severity, where: str, text: str) -> None:
        self.messages.append(Message(severity, where, text))

    # -- collecting -------------------------------------------------------------------

    def collect(self, resource: object, *, where: str, full_url: str | None = None) -> None:
        if not isinstance(resource, dict):
            self.note(Severity.ERROR, where, "not a FHIR resource (expected a JSON object)")
            return
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            self.note(Severity.ERROR, where, "resource has no resourceType; ignored")
            return
        if not _RESOURCE_TYPE.fullmatch(rtype):
            self.note(
                Severity.ERROR, f"{where}.resourceType", f"{rtype!r} is not a FHIR resource type; ignored"
            )
            return
        if rtype == "Bundle":
            self._collect_bundle(resource, where)
            return
        ref = local_reference(full_url, resource)
        if ref is None:
            ref = f"{rtype}/#{len(self.order)}"
            self.note(Severity.WARNING, where, f"{rtype} has no id; referred to as {ref}")
        if full_url:
            self.aliases[full_url] = ref
        if ref in self.resources:
            if self.resources[ref] != resource:
                self.note(Severity.WARNING, ref, "appears twice with different content; the first is used")
            return
        self.resources[ref] = resource
        self.order.append(ref)

    def _collect_bundle(self, bundle: JSON, where: str) -> None:
        entries = bundle.get("entry")
        if entries is None:
            return
        if not isinstance(entries, list):
            self.note(Severity.ERROR, f"{where}.entry", "Bundle.entry is not a list; bundle ignored")
            return
        for i, entry in enumerate(entries):
            here = f"{where}.entry[{i}]"
            if not isinstance(entry, dict):
                self.note(Severity.ERROR, here, "Bundle entry is not an object; ignored")
                continue
            request = entry.get("request")
            if isinstance(request, dict) and request.get("method") == "DELETE":
                continue
            if "resource" not in entry:
                if not isinstance(entry.get("response"), dict):
                    self.note(Severity.WARNING, here, "Bundle entry has no resource; ignored")
                continue
            full_url = entry.get("fullUrl")
            self.collect(
                entry["resource"],
                where=f"{here}.resource",
                full_url=full_url if isinstance(full_url, str) else None,
            )

    def get(self, ref: str | None) -> JSON | None:
        if ref is None:
            return None
        return self.resources.get(normalise_reference(ref, self.aliases))

    def norm(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        known = self._normalised.get(ref)
        if known is None:
            known = self._normalised[ref] = normalise_reference(ref, self.aliases)
        return known

    # -- building the context ---------------------------------------------------------

    def context(self, tumour_override: str | None, chosen: str | None = None) -> PatientContext:
        patients = self._patients()
        patient = self._choose(patients, chosen)
        report_of: dict[str, str] = {}

        for ref in self.order:
            res = self.resources[ref]
            if res.get("resourceType") == "DiagnosticReport":
                pending = [self.norm(_ref(result)) for result in _items(res, "result")]
                while pending:  # results, and the members of grouping Observations, belong to the report
                    target = pending.pop()
                    if target is None or target in report_of:
                        continue
                    report_of[target] = ref
                    member_of = self.resources.get(target) or {}
                    pending += [self.norm(_ref(m)) for m in _items(member_of, "hasMember")]
            elif res.get("resourceType") == "Observation":
                kinds = self.kind_of(ref, res)
                if "consequence" in kinds:
                    for link in _items(res, "derivedFrom"):
                        target = self.norm(_ref(link))
                        if target:
                            self.consequences.setdefault(target, []).append(res)
                elif "tumour-fraction" in kinds:
                    self._tumour_fraction(ref, res)

        superseded = self._superseded()
        found = _Found()
        for ref in self.order:
            res = self.resources[ref]
            if ref in superseded:
                self.note(
                    Severity.INFORMATION, ref, f"superseded by {superseded[ref]} (same identifier); ignored"
                )
                continue
            try:
                self._read_one(ref, res, patient, report_of.get(ref), found)
            except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
                self.note(
                    Severity.ERROR,
                    ref,
                    f"malformed {res['resourceType']}: an element has an unexpected shape "
                    f"({type(exc).__name__}); the resource is ignored",
                )

        return PatientContext(
            patient=patient,
            alterations=tuple(found.alterations),
            therapies=tuple(found.therapies),
            tumours=tuple(found.tumours),
            specimens=tuple(found.specimens),
            reports=tuple(found.reports),
            messages=tuple(self.messages),
            tumour_override=tumour_override,
            patients=patients,
            inputs=tuple(found.inputs),
            lab_implications=tuple(found.lab_implications),
        )

    def _read_one(self, ref: str, res: JSON, patient: str | None, report: str | None, found: _Found) -> None:
        rtype = res["resourceType"]
        status = _str(res, "status")
        if status in _IGNORED_STATUS:
            self.note(Severity.INFORMATION, ref, f"status is '{status}'; ignored")
            return
        if not self._same_patient(ref, res, patient):
            return
        if "modifierExtension" in res and _items(res, "modifierExtension"):
            urls = ", ".join(str(e.get("url")) for e in _items(res, "modifierExtension"))
            self.note(
                Severity.ERROR,
                f"{ref}.modifierExtension",
                f"carries a modifier extension fhir_resist does not understand ({urls}); "
                "the resource is not used",
            )
            return
        if rtype == "Observation" and "implication" in self.kind_of(ref, res):
            implication = self._lab_implication(ref, res)
            if implication is not None:
                found.lab_implications.append(implication)
        elif rtype == "Observation":
            alteration = self._observation(ref, res, report)
            if alteration is not None:
                found.alterations.append(alteration)
                found.inputs.append(ref)
        elif rtype in _THERAPY_TYPES:
            therapy = self._therapy(ref, res)
            if therapy is not None:
                found.therapies.append(therapy)
                found.inputs.append(ref)
        elif rtype == "Condition":
            tumour = self._condition(ref, res)
            if tumour is not None:
                found.tumours.append(tumour)
                found.inputs.append(ref)
        elif rtype == "Specimen":
            found.specimens.append(self._specimen(ref, res))
        elif rtype == "DiagnosticReport":
            genomic_report = self._report(ref, res)
            if genomic_report is not None:
                found.reports.append(genomic_report)
                found.inputs.append(ref)
        elif rtype not in {
            "Patient",
            "Medication",
            "Practitioner",
            "Organization",
            "PractitionerRole",
            "ServiceRequest",
            "Procedure",
            "Device",
            "DocumentReference",
            "Encounter",
            "GenomicStudy",
        }:
            self.note(Severity.INFORMATION, ref, f"{rtype} is not used by fhir_resist; ignored")

    def _superseded(self) -> dict[str, str]:
        """Resources replaced by an amended/corrected (or later-issued) version with the same identifier."""
        groups: dict[tuple[str, str, str], list[str]] = {}
        for ref in self.order:
            res = self.resources[ref]
            for ident in _items(res, "identifier"):
                system, value = ident.get("system"), ident.get("value")
                if isinstance(system, str) and isinstance(value, str):
                    groups.setdefault((str(res["resourceType"]), system, value), []).append(ref)
        rank = {"corrected": 2, "amended": 2, "final": 1}
        out: dict[str, str] = {}
        for refs in groups.values():
            if len(refs) < 2:
                continue
            best = max(
                refs,
                key=lambda r: (
                    rank.get(_str(self.resources[r], "status") or "", 0),
                    _str(self.resources[r], "issued") or "",
                    r,
                ),
            )
            out.update({r: best for r in refs if r != best})
        return out

    def _patients(self) -> tuple[str, ...]:
        """Every patient the input speaks of: Patient resources and the subjects of the rest."""
        found = {ref for ref in self.order if ref.startswith("Patient/")}
        for ref in self.order:
            res = self.resources[ref]
            subject = self.norm(_ref(res.get("subject") or res.get("patient")))
            if subject and subject.startswith("Patient/"):
                found.add(subject)
        return tuple(sorted(found))

    def _choose(self, patients: tuple[str, ...], chosen: str | None) -> str | None:
        if chosen:
            wanted = chosen if chosen.startswith("Patient/") else f"Patient/{chosen}"
            if wanted not in patients:
                self.note(Severity.ERROR, "--patient", f"{wanted} is not in the input")
            return wanted
        if len(patients) > 1:
            self.note(
                Severity.ERROR,
                "Patient",
                f"the input holds several patients ({', '.join(patients)}); only {patients[0]} "
                "is evaluated: choose one with --patient",
            )
        return patients[0] if patients else None

    def _same_patient(self, ref: str, res: JSON, patient: str | None) -> bool:
        if patient is None or res.get("resourceType") not in _ABOUT_A_PATIENT:
            return True
        element = "patient" if "patient" in res and "subject" not in res else "subject"
        subject = self.norm(_ref(res.get("subject") or res.get("patient")))
        if subject == patient:
            return True
        if subject is None:
            self.note(
                Severity.WARNING,
                f"{ref}.{element}",
                f"names no patient; read as about {patient}, the only patient in the input",
            )
            return True
        if subject.startswith("Patient/"):
            self.note(
                Severity.ERROR,
                f"{ref}.{element}",
                f"refers to {subject}, not {patient}; ignored (mixed patients)",
            )
            return False
        self.note(
            Severity.WARNING,
            f"{ref}.{element}",
            f"is {subject}, not a patient; ignored (a finding must be about this patient)",
        )
        return False

    def _therapy_dates(self, ref: str, res: JSON) -> tuple[date | None, date | None]:
        """Start and end of a therapy; a date that cannot be read, or an end before the start,
        is said, and the dates are then not used (timing becomes undetermined, never guessed)."""
        dates: list[date | None] = []
        for element, raw in _therapy_period(res):
            value = parse_date(raw)
            if raw is not None and value is None:
                self.note(Severity.WARNING, f"{ref}.{element}", f"{raw!r} is not a FHIR date; not used")
            dates.append(value)
        start, end = dates
        if start is not None and end is not None and end < start:
            self.note(
                Severity.WARNING,
                f"{ref}.effective[x]",
                f"ends ({end.isoformat()}) before it starts ({start.isoformat()}); dates not used",
            )
            return None, None
        return start, end

    # -- observations -----------------------------------------------------------------

    def _observation(self, ref: str, res: JSON, report: str | None) -> Alteration | None:
        kinds = self.kind_of(ref, res)
        if _items(res, "hasMember") and not _items(res, "component"):
            return None  # a grouping (e.g. a complex variant): its members are read one by one
        if "variant" in kinds or _profile_is(res, "/variant"):
            return self._variant(ref, res, report)
        if "msi" in kinds or "msi-ihc" in kinds:
            return self._msi(ref, res, report)
        if "tmb" in kinds:
            return self._tmb(ref, res, report)
        if "tumour-fraction" in kinds:
            return None  # read with the specimen it describes
        if "coded" not in kinds:
            self.note(Severity.WARNING, f"{ref}.code", "Observation has no code; ignored")
            return None
        if "consequence" in kinds or res.get("hasMember"):
            return None  # read with the variant it derives from / a grouping of other findings
        self.note(
            Severity.INFORMATION,
            f"{ref}.code",
            "Observation is not a variant, MSI or TMB finding; not evaluated",
        )
        return None

    def _base(self, ref: str, res: JSON, report: str | None) -> dict[str, Any]:
        specimen = self.norm(_ref(res.get("specimen")))
        if report is None:
            report = self._report_via_derivation(res)
        return {
            "source": ref,
            "specimen": specimen,
            "report": report,
            "observed": parse_date(res.get("effectiveDateTime"))
            or parse_date(_obj(res, "effectivePeriod").get("start"))
            or parse_date(res.get("issued")),
            "preliminary": res.get("status") == "preliminary",
        }

    def _report_via_derivation(self, res: JSON) -> str | None:
        for link in _items(res, "derivedFrom"):
            target = self.norm(_ref(link))
            if target and target.startswith("DiagnosticReport/"):
                return target
        return None

    def _call(self, ref: str, res: JSON) -> Call | None:
        value = res.get("valueCodeableConcept")
        if value is None:
            self.note(
                Severity.WARNING,
                f"{ref}.valueCodeableConcept",
                "variant has no Present/Absent value; read as Present (a reported variant)",
            )
            return Call.PRESENT
        found = code_list(value)
        if codes.PRESENT in found:
            return Call.PRESENT
        if codes.ABSENT in found:
            return Call.ABSENT
        if codes.NO_CALL in found or codes.INDETERMINATE in found:
            self.note(
                Severity.INFORMATION,
                f"{ref}.valueCodeableConcept",
                "no call / indeterminate: not a finding, and not evidence of absence",
            )
            return None
        self.note(
            Severity.WARNING,
            f"{ref}.valueCodeableConcept",
            "value is not Present (LA9633-4), Absent (LA9634-2) or No call (LA18198-4); ignored",
        )
        return None

    def _variant(self, ref: str, res: JSON, report: str | None) -> Alteration | None:
        call = self._call(ref, res)
        if call is None:
            return None
        comps = _components(res)
        base = self._base(ref, res, report)
        genes = [g for c in comps.get(codes.GENE_STUDIED, ()) if (g := _gene(c))[0] or g[1]]
        symbol, hgnc_id = genes[0] if genes else (None, None)
        origin = _origin(comps.get(codes.SOURCE_CLASS, ()))
        # in the order reported: the first consequence code given is the one used
        change_types = dict.fromkeys(
            code
            for key in (codes.DNA_CHANGE_TYPE, codes.MOLECULAR_CONSEQUENCE)
            for comp in comps.get(key, ())
            for code in code_list(comp.get("valueCodeableConcept"))
        )
        copy_number = _quantity(comps.get(codes.COPY_NUMBER, ()))
        common: dict[str, Any] = {**base, "gene": symbol, "hgnc_id": hgnc_id, "origin": origin, "call": call}

        variation = _texts(comps, codes.VARIATION_CODE)
        named_fusion = "fusion" in variation.lower() or "::" in variation
        if len(genes) >= 2 or named_fusion or change_types.keys() & _REARRANGEMENTS:
            partner = genes[1][0] if len(genes) >= 2 else None
            label = f"{symbol}::{partner} fusion" if partner else f"{symbol} fusion"
            return Alteration(kind=Kind.FUSION, partner=partner, label=label, **common)

        cnv = _cnv_call(change_types, copy_number)
        if cnv is not None:
            label = f"{symbol or 'region'} {cnv.value}" + (
                f" (copy number {copy_number:g})" if copy_number is not None else ""
            )
            if cnv is CnvCall.GAIN and copy_number is None:
                self.note(
                    Severity.WARNING,
                    f"{ref}.component:copy-number",
                    f"{symbol or 'region'} copy-number gain without a copy number: whether it is an "
                    "amplification cannot be told",
                )
            return Alteration(kind=Kind.CNV, cnv=cnv, copy_number=copy_number, label=label, **common)

        slots = _slot_texts(comps)
        protein = self._protein(ref, slots)
        coding = self._coding(ref, slots)
        for extra in self.consequences.get(ref, ()):  # STU3: the protein change may sit only here
            extra_comps = _components(extra)
            extra_slots = _slot_texts(extra_comps)
            protein = protein or self._protein(ref, extra_slots)
            coding = coding or self._coding(ref, extra_slots)
            change_types.update(
                dict.fromkeys(
                    code
                    for comp in extra_comps.get("feature-consequence", ())
                    for code in code_list(comp.get("valueCodeableConcept"))
                )
            )
        vaf = self._vaf(ref, comps)
        codon = protein.start if protein is not None else (coding.codon if coding else None)
        consequence = protein.consequence if protein is not None else _consequence(change_types)
        transcript = (coding.transcript if coding else None) or _first_text(comps, codes.TRANSCRIPT_REF)
        iscn = _first_text(comps, codes.ISCN)
        if symbol is None and transcript is None and iscn:
            self.note(
                Severity.INFORMATION,
                f"{ref}.component:variant-iscn",
                f"karyotype {iscn} kept as reported: no gene or fusion is inferred from a karyotype "
                "(the catalogue's rules need the molecular result, e.g. BCR::ABL1 and its kinase-domain "
                "mutations)",
            )
        elif symbol is None and transcript is None:
            self.note(
                Severity.WARNING,
                f"{ref}.component:gene-studied",
                "variant names no gene (48018-6) and no transcript; it cannot be matched",
            )
        genomic = _first_text(comps, codes.G_HGVS)
        described = genomic or (f"karyotype {iscn}" if iscn else None)
        change = f"p.{protein.text}" if protein else (coding.text if coding else (described or "variant"))
        label = f"{symbol or '?'} {change}"
        return Alteration(
            kind=Kind.VARIANT,
            protein=protein,
            coding=coding,
            codon=codon,
            consequence=consequence,
            vaf=vaf,
            label=label,
            transcript=transcript,
            **common,
        )

    def _hgvs_texts(self, ref: str, slots: list[_SlotText], prefix: str) -> list[str]:
        """HGVS strings of one kind (``p.`` or ``c.``), wherever the sender put them."""
        found: list[str] = []
        for slot, expected, text, kind in slots:
            if kind == prefix or (kind is None and expected == prefix):
                if kind is not None and expected != prefix:
                    self.note(
                        Severity.WARNING,
                        f"{ref}.component:{slot}",
                        f"'{text}' is a {prefix} expression in the {expected} slot; read as {prefix}",
                    )
                found.append(text)
        return found

    def _protein(self, ref: str, slots: list[_SlotText]) -> hgvs.ProteinChange | None:
        return self._first_parsed(ref, slots, "p.", hgvs.parse_protein, "protein change")

    def _coding(self, ref: str, slots: list[_SlotText]) -> hgvs.CodingChange | None:
        return self._first_parsed(ref, slots, "c.", hgvs.parse_coding, "coding change")

    def _first_parsed(
        self, ref: str, slots: list[_SlotText], prefix: str, parse: Callable[[str], T], what: str
    ) -> T | None:
        """The first HGVS expression of this kind that parses; each failure becomes a message."""
        if not slots:
            return None
        slot = "protein-hgvs" if prefix == "p." else "coding-hgvs"
        for text in self._hgvs_texts(ref, slots, prefix):
            try:
                return parse(text)
            except HgvsError as exc:
                self.note(Severity.WARNING, f"{ref}.component:{slot}", f"{exc}; the {what} is not used")
        return None

    def _vaf(self, ref: str, comps: Mapping[str, list[JSON]]) -> float | None:
        for comp in comps.get(codes.VAF, ()):
            quantity = comp.get("valueQuantity")
            if not isinstance(quantity, dict):
                continue
            value = number(quantity.get("value"))
            if value is None:
                self.note(
                    Severity.WARNING,
                    f"{ref}.component:sample-allelic-frequency",
                    "VAF value is not a number; ignored",
                )
                return None
            unit = str(quantity.get("code") or quantity.get("unit") or "")
            percent = unit.strip().lower() in {"%", "percent", "pct"}
            if not percent and 1 < value <= 100:
                self.note(
                    Severity.WARNING,
                    f"{ref}.component:sample-allelic-frequency",
                    f"VAF {value} has no '%' unit but is above 1; read as a percentage",
                )
                percent = True
            fraction = value / 100.0 if percent else value
            if not 0.0 <= fraction <= 1.0:
                self.note(
                    Severity.WARNING,
                    f"{ref}.component:sample-allelic-frequency",
                    f"VAF {value} {unit} is outside 0-100 %; ignored",
                )
                return None
            return fraction
        return None

    def _msi(self, ref: str, res: JSON, report: str | None) -> Alteration | None:
        """MSI by PCR/NGS (81695-9) or mismatch-repair status by immunohistochemistry (62862-8)."""
        value = res.get("valueCodeableConcept")
        by_ihc = _has_code(res.get("code"), codes.MSI_IHC)
        text = " ".join(filter(None, [_text(value), *(c.display or "" for c in codings(value))])).lower()
        status: MsiStatus | None = None
        if _has_code(value, codes.MSI_HIGH) or "msi-h" in text or "high" in text:
            status = MsiStatus.HIGH
        elif _has_code(value, codes.MSI_STABLE) or "stable" in text or "mss" in text:
            status = MsiStatus.STABLE
        elif "msi-l" in text or "low" in text:
            status = MsiStatus.LOW
        elif by_ihc and any(w in text for w in ("deficien", "dmmr", "loss", "absent")):
            status = MsiStatus.HIGH  # mismatch-repair deficient by IHC
        elif by_ihc and any(w in text for w in ("proficien", "pmmr", "intact", "retained")):
            status = MsiStatus.STABLE
        if status is None:
            self.note(
                Severity.WARNING,
                f"{ref}.valueCodeableConcept",
                "MSI/MMR result is not MSI-H (LA26203-2), stable (LA14122-8), MSI-L, or an MMR "
                "deficient/proficient statement; ignored",
            )
            return None
        names = {
            MsiStatus.HIGH: "MSI-high",
            MsiStatus.STABLE: "microsatellite stable",
            MsiStatus.LOW: "MSI-low",
        }
        if by_ihc:
            names = {
                MsiStatus.HIGH: "MMR-deficient (IHC)",
                MsiStatus.STABLE: "MMR-proficient (IHC)",
                MsiStatus.LOW: "MSI-low",
            }
        return Alteration(
            kind=Kind.MSI, call=Call.PRESENT, msi=status, label=names[status], **self._base(ref, res, report)
        )

    def _tmb(self, ref: str, res: JSON, report: str | None) -> Alteration | None:
        quantity = res.get("valueQuantity")
        value = number(quantity.get("value")) if isinstance(quantity, dict) else None
        if value is None or value < 0:
            self.note(Severity.WARNING, f"{ref}.valueQuantity", "TMB has no usable numeric value; ignored")
            return None
        return Alteration(
            kind=Kind.TMB,
            call=Call.PRESENT,
            tmb=value,
            label=f"TMB {value:g} mut/Mb",
            **self._base(ref, res, report),
        )

    # -- therapies, tumours, specimens, reports ----------------------------------------

    def _lab_implication(self, ref: str, res: JSON) -> LabImplication | None:
        comps = _components(res)
        answers = [
            c.get("valueCodeableConcept")
            for key in (codes.THERAPEUTIC_IMPLICATION, codes.PREDICTED_THERAPEUTIC_IMPLICATION)
            for c in comps.get(key, ())
        ]
        answers.append(res.get("valueCodeableConcept"))  # STU1 kept the answer in value[x]
        assertion, text = "other", ""
        for answer in answers:
            found = {c.code for c in codings(answer)}
            words = " ".join(filter(None, [_text(answer), *(c.display or "" for c in codings(answer))]))
            text = text or words
            lowered = words.lower()
            if found & codes.RESISTANT_ANSWERS or ("resist" in lowered and "not support" not in lowered):
                assertion = "resistant"
            elif found & codes.RESPONSIVE_ANSWERS or (
                any(w in lowered for w in ("respons", "sensitiv")) and "not support" not in lowered
            ):
                assertion = "responsive"
            if assertion != "other":
                break
        drug = next((c.get("valueCodeableConcept") for c in comps.get(codes.MEDICATION_ASSESSED, ())), None)
        derived = tuple(d for d in (self.norm(_ref(x)) for x in _items(res, "derivedFrom")) if d)
        if drug is None and not text:
            self.note(Severity.INFORMATION, ref, "therapeutic implication names no drug and no implication")
            return None
        return LabImplication(
            source=ref,
            derived_from=derived,
            drug_codings=codings(drug),
            drug_text=_text(drug),
            assertion=assertion,
            text=text,
        )

    def _therapy(self, ref: str, res: JSON) -> Therapy | None:
        rtype = res["resourceType"]
        concept = res.get("medicationCodeableConcept")
        med_ref = _ref(res.get("medicationReference"))
        if concept is None and med_ref is not None:
            concept = self._medication(ref, res, med_ref)
        found = codings(concept)
        text = _text(concept)
        if not found and text is None:
            self.note(Severity.WARNING, f"{ref}.medication[x]", "names no drug (no coding, no text); ignored")
            return None
        start, end = self._therapy_dates(ref, res)
        status = str(res.get("status") or "unknown")
        proposed = status == "draft" or res.get("intent") in _PROPOSED_INTENTS or status == "intended"
        return Therapy(
            source=ref,
            resource_type=rtype,
            status=status,
            codings=found,
            text=text,
            start=start,
            end=end,
            proposed=proposed,
            groups=self._therapy_groups(res),
        )

    def _therapy_groups(self, res: JSON) -> tuple[str, ...]:
        """The requests, plans and group identifiers a therapy shares with the others of its regimen."""
        out: list[str] = []
        for element in ("basedOn", "partOf"):
            for item in _items(res, element):
                ref = self.norm(_ref(item))
                if ref and ref not in out:
                    out.append(ref)
        group = res.get("groupIdentifier")
        if isinstance(group, dict) and isinstance(group.get("value"), str):
            out.append(f"{group.get('system') or ''}|{group['value']}")
        return tuple(out)

    def _medication(self, ref: str, res: JSON, med_ref: str) -> object:
        if med_ref.startswith("#"):
            for contained in _items(res, "contained"):
                if isinstance(contained, dict) and f"#{contained.get('id')}" == med_ref:
                    return contained.get("code")
        else:
            medication = self.get(med_ref)
            if medication is not None:
                return medication.get("code")
        self.note(
            Severity.WARNING,
            f"{ref}.medicationReference",
            f"{med_ref} is not in the input; the drug is unknown",
        )
        return None

    def _condition(self, ref: str, res: JSON) -> Tumour | None:
        verification = res.get("verificationStatus")
        if _has_code(verification, "refuted") or _has_code(verification, "entered-in-error"):
            self.note(Severity.INFORMATION, f"{ref}.verificationStatus", "refuted condition; ignored")
            return None
        found = codings(res.get("code"))
        text = _text(res.get("code"))
        if not found and text is None:
            self.note(Severity.WARNING, f"{ref}.code", "condition has no code; ignored")
            return None
        role = "unknown"
        if _profile_is(res, "primary-cancer-condition"):
            role = "primary"
        elif _profile_is(res, "secondary-cancer-condition"):
            role = "secondary"
        return Tumour(source=ref, codings=found, text=text, role=role)

    def _specimen(self, ref: str, res: JSON) -> Specimen:
        kinds = {c.code for c in codings(res.get("type"))}
        words = " ".join(
            filter(None, [_text(res.get("type")), *(c.display or "" for c in codings(res.get("type")))])
        ).lower()
        if kinds & {"PLAS", "BLD", "SER"} or any(
            w in words for w in ("plasma", "blood", "ctdna", "cell-free", "cfdna")
        ):
            kind = SpecimenType.PLASMA
        elif kinds & {"TUMOR", "TISS", "BX", "BIO"} or any(
            w in words for w in ("tumor", "tumour", "tissue", "biopsy")
        ):
            kind = SpecimenType.TISSUE
        else:
            kind = SpecimenType.UNKNOWN
        collection = res.get("collection") if isinstance(res.get("collection"), dict) else {}
        assert isinstance(collection, dict)
        collected = parse_date(collection.get("collectedDateTime")) or parse_date(
            _obj(collection, "collectedPeriod").get("start")
        )
        return Specimen(
            source=ref,
            type=kind,
            collected=collected or parse_date(res.get("receivedTime")),
            tumour_fraction=self.fractions.get(ref),
        )

    def _tumour_fraction(self, ref: str, res: JSON) -> None:
        """A lab-reported tumour fraction (no standard code exists; recognised by its name)."""
        specimen = self.norm(_ref(res.get("specimen")))
        quantity = _obj(res, "valueQuantity")
        value = number(quantity.get("value"))
        if specimen is None or value is None:
            self.note(
                Severity.WARNING,
                f"{ref}.valueQuantity",
                "tumour fraction without a specimen or a numeric value; not used",
            )
            return
        unit = str(quantity.get("code") or quantity.get("unit") or "")
        fraction = value / 100.0 if unit.strip() == "%" or value > 1 else value
        if not 0.0 <= fraction <= 1.0:
            self.note(
                Severity.WARNING, f"{ref}.valueQuantity", f"tumour fraction {value} {unit} is not 0-100 %"
            )
            return
        self.fractions[specimen] = fraction
        self.note(Severity.INFORMATION, ref, f"read as the tumour fraction of {specimen} ({fraction:.0%})")

    def _report(self, ref: str, res: JSON) -> GenomicReport | None:
        specimens = tuple(s for s in (self.norm(_ref(x)) for x in _items(res, "specimen")) if s)
        results = tuple(r for r in (self.norm(_ref(x)) for x in _items(res, "result")) if r)
        raw = res.get("result")
        listed = raw if isinstance(raw, list) else [] if raw is None else [raw]
        if len(listed) > len(results):
            self.note(
                Severity.WARNING,
                f"{ref}.result",
                f"{len(listed) - len(results)} of {len(listed)} results are not references; "
                "those results are not linked to this report",
            )
        return GenomicReport(
            source=ref,
            status=str(res.get("status") or "unknown"),
            issued=parse_date(res.get("issued")),
            effective=parse_date(res.get("effectiveDateTime"))
            or parse_date(_obj(res, "effectivePeriod").get("start")),
            specimens=specimens,
            results=results,
        )


# --------------------------------------------------------------------------- components


_TUMOUR_FRACTION = re.compile(r"tumou?r (cell )?(fraction|content|purity)|ctdna (tumou?r )?fraction", re.I)


# What an Observation's code says it is; several can hold at once, and each reader asks in its
# own order. One Observation's code is classified once per read (see _Reader.kind_of).
_KIND_CODES = {
    codes.VARIANT: "variant",
    codes.MSI: "msi",
    codes.MSI_IHC: "msi-ihc",
    codes.TMB: "tmb",
    codes.MOLECULAR_CONSEQUENCE: "consequence",
    codes.THERAPEUTIC_IMPLICATION: "implication",
    codes.PREDICTED_THERAPEUTIC_IMPLICATION: "implication",
}


@functools.lru_cache(maxsize=4096)
def _kinds(found: tuple[Coding, ...], text: str | None) -> frozenset[str]:
    kinds = {_KIND_CODES[c.code] for c in found if c.code in _KIND_CODES}
    if any(c.code == "51961-1" and c.system == codes.LOINC for c in found):
        kinds.add("implication")
    if any(_TUMOUR_FRACTION.search(name) for name in (text or "", *(c.display or "" for c in found))):
        kinds.add("tumour-fraction")  # a lab-reported tumour fraction: no standard code, known by its name
    if found:
        kinds.add("coded")
    return frozenset(kinds)


def observation_kinds(res: JSON) -> frozenset[str]:
    """What an Observation's code says it is: variant, msi, msi-ihc, tmb, consequence,
    implication, tumour-fraction, and coded when it has any coding."""
    concept = res.get("code")
    return _kinds(codings(concept), _text(concept))


# (slot, the kind the slot is for, text, the kind the text is) of one HGVS component
_SlotText = tuple[str, str, str, str | None]


def _slot_texts(comps: Mapping[str, list[JSON]]) -> list[_SlotText]:
    """Every HGVS component's text, with its slot and kind, in slot order (p., c., g.)."""
    return [
        (slot, expected, text, _hgvs_kind(text))
        for slot, expected in _HGVS_SLOTS
        for comp in comps.get(slot, ())
        if (text := _component_text(comp)) is not None
    ]


def _hgvs_kind(text: str) -> str | None:
    """'p.', 'c.', 'g.' ... for an HGVS string (after any reference), or None when unclear."""
    _, rest = hgvs.split_reference(text.strip())
    return rest[:2] if len(rest) > 2 and rest[1] == "." and rest[0] in "pcgnmr" else None


def _profile_is(res: JSON, suffix: str) -> bool:
    meta = res.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return any(isinstance(p, str) and p.split("|")[0].endswith(suffix) for p in profiles or ())


def _components(res: JSON) -> dict[str, list[JSON]]:
    out: dict[str, list[JSON]] = {}
    for comp in _items(res, "component"):
        code = comp.get("code")
        listed = code.get("coding") if type(code) is dict else None
        if type(listed) is list and len(listed) == 1 and type(listed[0]) is dict:
            single = listed[0].get("code")  # the usual shape: one LOINC coding, read directly
            if type(single) is str:
                if single:
                    same = out.get(single)
                    if same is None:
                        out[single] = [comp]
                    else:
                        same.append(comp)
                continue
        for coding in codings(code):
            if coding.code:
                out.setdefault(coding.code, []).append(comp)
    return out


def _component_text(comp: JSON) -> str | None:
    concept = comp.get("valueCodeableConcept")
    for code in code_list(concept):
        if code:
            return code
    text = _text(concept)
    if text:
        return text
    value = comp.get("valueString")
    return value if isinstance(value, str) and value.strip() else None


def _gene(comp: JSON) -> tuple[str | None, str | None]:
    concept = comp.get("valueCodeableConcept")
    for coding in codings(concept):
        if coding.system in {codes.HGNC, codes.HGNC_GENE_ID} and coding.code:
            hgnc = coding.code if coding.code.upper().startswith("HGNC:") else f"HGNC:{coding.code}"
            return (coding.display.strip().upper() if coding.display else None), hgnc
    for coding in codings(concept):
        if coding.display:
            return coding.display.strip().upper(), None
    text = _text(concept)
    return (text.upper() if text else None), None


def _first_text(comps: Mapping[str, list[JSON]], key: str) -> str | None:
    """The first text of the components with this code."""
    if key not in comps:
        return None
    for comp in comps[key]:
        text = _component_text(comp)
        if text:
            return text
    return None


def _texts(comps: Mapping[str, list[JSON]], key: str) -> str:
    """Every text of the components with this code, space-separated."""
    if key not in comps:
        return ""
    return " ".join(filter(None, map(_component_text, comps[key])))


def _origin(comps: Iterable[JSON]) -> Origin:
    for comp in comps:
        found = code_list(comp.get("valueCodeableConcept"))
        if codes.SOMATIC in found:
            return Origin.SOMATIC
        if codes.GERMLINE in found:
            return Origin.GERMLINE
    return Origin.UNKNOWN


def number(value: Any) -> float | None:
    """A JSON number as a finite float; None for booleans, NaN, infinities and integers too
    large for a float (a 400-digit integer is valid JSON)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def _quantity(comps: Iterable[JSON]) -> float | None:
    for comp in comps:
        quantity = comp.get("valueQuantity")
        if isinstance(quantity, dict) and (value := number(quantity.get("value"))) is not None:
            return value
        value_range = comp.get("valueRange")
        if isinstance(value_range, dict):
            low = value_range.get("low")
            if isinstance(low, dict) and (value := number(low.get("value"))) is not None:
                return value
        if (value := number(comp.get("valueInteger"))) is not None:
            return value
    return None


_REARRANGEMENTS = frozenset({codes.SO_GENE_FUSION, codes.SO_TRANSLOCATION, codes.SO_COMPLEX_REARRANGEMENT})


def _cnv_call(change_types: Mapping[str, None], copy_number: float | None) -> CnvCall | None:
    """Copy-number direction from the DNA change type and copy number.

    Gains stay gains here: whether a gain is an amplification is the catalogue's threshold
    (parameter ``amplification-min-copies``), applied by the engine.
    """
    if copy_number is not None and change_types.keys() & {codes.SO_DELETION, codes.SO_DUPLICATION}:
        change_types = {**change_types, codes.SO_COPY_NUMBER_VARIATION: None}
    if codes.SO_COPY_NUMBER_GAIN in change_types:
        return CnvCall.GAIN
    if codes.SO_COPY_NUMBER_LOSS in change_types:
        return CnvCall.DELETION if copy_number is not None and copy_number < 0.5 else CnvCall.LOSS
    if codes.SO_COPY_NUMBER_VARIATION in change_types:
        if copy_number is None:
            return None
        if copy_number > 2:
            return CnvCall.GAIN
        if copy_number < 0.5:
            return CnvCall.DELETION
        if copy_number < 2:
            return CnvCall.LOSS
    return None


def _consequence(change_types: Iterable[str]) -> str | None:
    for code in change_types:
        if code in codes.SO_CONSEQUENCE:
            return codes.SO_CONSEQUENCE[code]
    return None


def _therapy_period(res: JSON) -> tuple[tuple[str, object], tuple[str, object]]:
    """Where a therapy's start and end are, as (element, raw value) pairs."""
    period = res.get("effectivePeriod")
    if isinstance(period, dict):
        return ("effectivePeriod.start", period.get("start")), ("effectivePeriod.end", period.get("end"))
    if "effectiveDateTime" in res:
        return ("effectiveDateTime", res.get("effectiveDateTime")), ("", None)
    for dosage in _items(res, "dosageInstruction") or _items(res, "dosage"):
        timing = dosage.get("timing") if isinstance(dosage, dict) else None
        repeat = timing.get("repeat") if isinstance(timing, dict) else None
        bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
        if isinstance(bounds, dict):
            where = "dosage.timing.repeat.boundsPeriod"
            return (f"{where}.start", bounds.get("start")), (f"{where}.end", bounds.get("end"))
    return ("authoredOn", res.get("authoredOn")), ("", None)


def iter_resources(resources: Iterable[JSON]) -> Iterator[JSON]:
    """Every resource, Bundles (nested ones too) unpacked; used where a Bundle arrives over HTTP."""
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            yield from iter_resources(
                e["resource"]
                for e in _items(resource, "entry")
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            )
        else:
            yield resource
