"""A result's alerts by their clinical content: which rule, which drug, which finding.

An alert is one of our DetectedIssues still in force (not ``cancelled`` nor
``entered-in-error``), read from a transaction Bundle as ``evaluate`` writes it or from the
resources a FHIR server returns. Its key is what a clinician would call the same alert: the rule
(the ``rule-id`` extension), the drug and the finding, both as the issue's ``detail`` sentence
names them ("KRAS p.G12D predicts resistance to cetuximab ..."). Never resource ids, identifiers
or times: the same alert raised by a later evaluation, on a re-exported record with new ids,
is the same alert. What may change about an alert is its severity and its countermeasures
(``mitigation``: strategy and wording).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fhir_resist import terminology

JSON = dict[str, Any]
WITHDRAWN = frozenset({"cancelled", "entered-in-error"})

# The verbs of the engine's issue sentences (engine/explain.py), between the finding and the drug.
_EFFECT = re.compile(
    r" (?:predicts resistance to|predicts a reduced response to|has no known effect on|"
    r"predicts sensitivity to) "
)
# An uncertain-significance issue (engine/uncatalogued.py): "... catalogue: <finding> appeared after <drug>"
_UNCERTAIN = re.compile(
    r"^New variant, not in the catalogue: (?P<finding>.+?) appeared after (?P<drug>.+?)[ (.]"
)
# Where the drug's name ends in an issue sentence: its regimen, its tumour, its explanation.
_DRUG_END = re.compile(r" \(regimen | in | \(")


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    rule: str
    drug: str
    finding: str

    def __str__(self) -> str:
        return f"{self.finding} / {self.drug} ({self.rule})"


@dataclass(frozen=True, slots=True)
class Alert:
    key: AlertKey
    severity: str
    countermeasures: tuple[str, ...]  # "strategy: wording", sorted


def resources_of(resources: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every resource, Bundles' entries unpacked (one level deep, as ``evaluate`` writes them)."""
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            for entry in resource.get("entry") or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield entry["resource"]
        else:
            yield resource


def alerts_of(resources: Iterable[Mapping[str, Any]]) -> dict[AlertKey, Alert]:
    """The alerts in force among ``resources`` (Bundles unpacked), by key."""
    found: dict[AlertKey, Alert] = {}
    for resource in resources_of(resources):
        if resource.get("resourceType") != "DetectedIssue" or resource.get("status") in WITHDRAWN:
            continue
        if not any(
            isinstance(i, dict) and i.get("system") == terminology.NS_FINDING
            for i in resource.get("identifier") or []
        ):
            continue  # not one of ours
        alert = alert_of(resource)
        found[alert.key] = alert
    return found


def alert_of(issue: Mapping[str, Any]) -> Alert:
    rule = next(
        (
            e.get("valueString")
            for e in issue.get("extension") or []
            if isinstance(e, dict) and e.get("url") == terminology.EXT_RULE
        ),
        None,
    )
    finding, drug = _finding_and_drug(issue.get("detail"))
    return Alert(
        AlertKey(rule if isinstance(rule, str) else "", drug, finding),
        str(issue.get("severity") or ""),
        tuple(sorted(_countermeasure(m) for m in issue.get("mitigation") or [] if isinstance(m, dict))),
    )


def _finding_and_drug(detail: object) -> tuple[str, str]:
    """The finding and the drug as the issue's sentence names them; a sentence of another shape is
    its first sentence, as the finding."""
    if not isinstance(detail, str):
        return "", ""
    uncertain = _UNCERTAIN.match(detail)
    if uncertain:
        return uncertain["finding"], uncertain["drug"]
    effect = _EFFECT.search(detail)
    if effect is None:
        return detail.split(". ", 1)[0], ""
    rest = detail[effect.end() :]
    end = _DRUG_END.search(rest)
    return detail[: effect.start()], (rest[: end.start()] if end else rest).rstrip(".")


def _countermeasure(mitigation: Mapping[str, Any]) -> str:
    action = mitigation.get("action") or {}
    codes = [c.get("code") for c in action.get("coding") or [] if isinstance(c, dict)]
    strategy = next((c for c in codes if isinstance(c, str)), "")
    text = action.get("text")
    if not isinstance(text, str):
        return strategy
    return text if text.startswith(f"{strategy}:") else f"{strategy}: {text}"


def cited_rules(resources: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every catalogue rule a result cites: its alerts' rules and its GuidanceResponse's
    therapy implications (``rule`` parts), by rule id."""
    cited: set[str] = set()
    prefix = f"{terminology.RULE_URL}/"
    for resource in resources_of(resources):
        if resource.get("resourceType") == "DetectedIssue" and resource.get("status") not in WITHDRAWN:
            rule = alert_of(resource).key.rule
            if rule:
                cited.add(rule)
        elif resource.get("resourceType") == "GuidanceResponse":
            for uri in _rule_uris(resource.get("contained") or []):
                if uri.startswith(prefix):
                    cited.add(uri.removeprefix(prefix))
    return cited


def _rule_uris(contained: list[Any]) -> Iterator[str]:
    for resource in contained:
        if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
            continue
        for parameter in resource.get("parameter") or []:
            for part in parameter.get("part") or [] if isinstance(parameter, dict) else []:
                if (
                    isinstance(part, dict)
                    and part.get("name") == "rule"
                    and isinstance(part.get("valueUri"), str)
                ):
                    yield part["valueUri"]
