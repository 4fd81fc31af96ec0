"""What resources say about each other, gathered before any is read: what each Observation is,
which report each result belongs to, the consequences of each variant, the tumour fraction of
each specimen, and which resources a later version replaced."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fhir_resist import terminology
from fhir_resist.domain import Severity
from fhir_resist.fhir.read.collection import Collected, Notes
from fhir_resist.fhir.read.elements import (
    JSON,
    codes_of,
    codings,
    displays,
    items,
    number,
    obj,
    observed,
    string,
    text,
    unit_of,
)
from fhir_resist.reading_rules import ReadingRules

GeneWanted = Callable[[str | None, str | None], bool]
_TUMOUR_FRACTION = re.compile(r"tumou?r (cell )?(fraction|content|purity)|ctdna (tumou?r )?fraction", re.I)

# What an Observation's code says it is; several can hold at once, and each reader asks in its own order.
_KIND_CODES = {
    terminology.VARIANT: "variant",
    terminology.MSI: "msi",
    terminology.MSI_IHC: "msi-ihc",
    terminology.TMB: "tmb",
    terminology.MOLECULAR_CONSEQUENCE: "consequence",
    terminology.THERAPEUTIC_IMPLICATION: "implication",
    terminology.PREDICTED_THERAPEUTIC_IMPLICATION: "implication",
    terminology.REGION_STUDIED: "region-studied",
}
_DRUG_EFFICACY = "51961-1"  # LOINC: genetic variation's effect on drug efficacy (older reports' implications)
# What an Observation coded with one of those codes alone is (a variant's usual code), made once.
_ONE_CODE_KINDS = {code: frozenset({kind, "coded"}) for code, kind in _KIND_CODES.items()}


@dataclass(frozen=True)
class Links:
    collected: Collected
    kinds: Mapping[str, frozenset[str]]  # Observation -> what its code says it is
    report_of: Mapping[str, str]  # result (and members of grouping results) -> DiagnosticReport
    consequences: Mapping[str, list[JSON]]  # variant -> its MolecularConsequence Observations
    fractions: Mapping[str, float]  # specimen -> reported tumour fraction
    superseded: Mapping[str, str]  # resource -> the version that replaced it
    subjects: Mapping[str, str]  # resource -> the subject (or patient) it is about
    rules: ReadingRules | None = None  # the words and cut-offs to read with; None: codes only
    # whether a simple variant in this gene (symbol, HGNC id) is read further; None: every one
    wanted: GeneWanted | None = None

    def finding_fields(self, ref: str, res: JSON) -> dict[str, Any]:
        """The fields every finding has: its source, specimen, report and date."""
        report = self.report_of.get(ref) or next(
            (t for t in self.collected.resolve_all(res, "derivedFrom") if t.startswith("DiagnosticReport/")),
            None,
        )
        return {
            "source": ref,
            "specimen": self.collected.resolve(res.get("specimen")),
            "report": report,
            "observed": observed(res),
            "preliminary": res.get("status") == "preliminary",
        }


def observation_kinds(res: JSON) -> frozenset[str]:
    """What an Observation's code says it is: variant, msi, msi-ihc, tmb, consequence,
    implication, region-studied, tumour-fraction, and coded when it has any coding."""
    concept = res.get("code")
    found = codes_of(concept)
    if len(found) == 1 and found[0] in _ONE_CODE_KINDS:
        return _ONE_CODE_KINDS[found[0]]
    kinds = {_KIND_CODES[code] for code in found if code in _KIND_CODES}
    if _DRUG_EFFICACY in found and any(
        c.code == _DRUG_EFFICACY and c.system == terminology.LOINC for c in codings(concept)
    ):
        kinds.add("implication")
    if not kinds and any(_TUMOUR_FRACTION.search(name) for name in (text(concept) or "", *displays(concept))):
        kinds.add("tumour-fraction")  # no standard code: a lab-reported tumour fraction is known by its name
    if found or items(concept, "coding"):
        kinds.add("coded")
    return frozenset(kinds)


def link(
    collected: Collected,
    notes: Notes,
    rules: ReadingRules | None = None,
    wanted: GeneWanted | None = None,
) -> Links:
    kinds: dict[str, frozenset[str]] = {}
    report_of: dict[str, str] = {}
    consequences: dict[str, list[JSON]] = {}
    fractions: dict[str, float] = {}
    subjects: dict[str, str] = {}
    for ref, res in collected:
        subject = collected.resolve(res.get("subject") or res.get("patient"))
        if subject is not None:
            subjects[ref] = subject
        rtype = res.get("resourceType")
        if rtype == "DiagnosticReport":
            pending = list(collected.resolve_all(res, "result"))
            while pending:  # results, and the members of grouping Observations, belong to the report
                target = pending.pop()
                if target not in report_of:
                    report_of[target] = ref
                    member = collected.resources.get(target)
                    if member is not None and "hasMember" in member:
                        pending += collected.resolve_all(member, "hasMember")
        elif rtype == "Observation":
            kinds[ref] = observation_kinds(res)
            if "consequence" in kinds[ref]:
                for target in collected.resolve_all(res, "derivedFrom"):
                    consequences.setdefault(target, []).append(res)
            elif "tumour-fraction" in kinds[ref]:
                fraction = _tumour_fraction(ref, res, collected, notes)
                if fraction is not None:
                    fractions[fraction[0]] = fraction[1]
    return Links(
        collected, kinds, report_of, consequences, fractions, _superseded(collected), subjects, rules, wanted
    )


def _tumour_fraction(ref: str, res: JSON, collected: Collected, notes: Notes) -> tuple[str, float] | None:
    """A lab-reported tumour fraction (no standard code exists; recognised by its name)."""
    specimen = collected.resolve(res.get("specimen"))
    quantity = obj(res, "valueQuantity")
    value = number(quantity.get("value"))
    if specimen is None or value is None:
        notes.add(
            Severity.WARNING,
            f"{ref}.valueQuantity",
            "tumour fraction without a specimen or a numeric value; not used",
        )
        return None
    unit = unit_of(quantity)
    fraction = value / 100.0 if unit.strip() == "%" or value > 1 else value
    if not 0.0 <= fraction <= 1.0:
        notes.add(Severity.WARNING, f"{ref}.valueQuantity", f"tumour fraction {value} {unit} is not 0-100 %")
        return None
    notes.add(Severity.INFORMATION, ref, f"read as the tumour fraction of {specimen} ({fraction:.0%})")
    return specimen, fraction


def _superseded(collected: Collected) -> dict[str, str]:
    """Resources replaced by an amended/corrected (or later-issued) version with the same identifier."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for ref, res in collected:
        for ident in items(res, "identifier"):
            system, value = string(ident, "system"), string(ident, "value")
            if system is not None and value is not None:
                groups.setdefault((str(res["resourceType"]), system, value), []).append(ref)
    rank = {"corrected": 2, "amended": 2, "final": 1}

    def newest(r: str) -> tuple[int, str, str]:
        res = collected.resources[r]
        return rank.get(string(res, "status") or "", 0), string(res, "issued") or "", r

    out: dict[str, str] = {}
    for refs in groups.values():
        if len(refs) > 1:
            best = max(refs, key=newest)
            out.update({r: best for r in refs if r != best})
    return out
