"""CDS Hooks 2.0 logical models as checks (there is no official JSON Schema for 2.0).

Cardinalities and bindings from CDS Hooks 2.0.1 (sections Discovery, Card, Suggestion, Action,
Link, Coding, Feedback) and the FHIR tools IG logical models, with the 3.0 invariants that
clarify 2.0 (at-most-one => at most one recommended suggestion; delete => resourceId). Each
function returns the list of problems (empty = conforms).
"""

from __future__ import annotations

from typing import Any

INDICATORS = {"info", "warning", "critical"}
SELECTION = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
SERVICE_FIELDS = {"hook", "title", "description", "id", "prefetch", "usageRequirements", "extension"}
CARD_FIELDS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
    "extension",
}


def _non_empty(value: Any) -> bool:
    return value not in (None, "", [], {})


def _absent_or_nonempty(obj: dict[str, Any], where: str) -> list[str]:
    return [f"{where}.{k}: empty or null" for k, v in obj.items() if not _non_empty(v)]


def discovery(doc: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        return ["services: required array"]
    for n, s in enumerate(doc["services"]):
        where = f"services[{n}]"
        problems += _absent_or_nonempty(s, where)
        problems += [f"{where}.{k}: unknown field" for k in s if k not in SERVICE_FIELDS]
        for key in ("hook", "description", "id"):
            if not isinstance(s.get(key), str):
                problems.append(f"{where}.{key}: required string")
        prefetch = s.get("prefetch", {})
        if not isinstance(prefetch, dict) or not all(isinstance(v, str) for v in prefetch.values()):
            problems.append(f"{where}.prefetch: object of strings")
    return problems


def coding(c: Any, where: str, *, display: bool) -> list[str]:
    problems = []
    if not isinstance(c, dict) or not isinstance(c.get("code"), str) or not isinstance(c.get("system"), str):
        problems.append(f"{where}: code and system are required")
    elif display and not isinstance(c.get("display"), str):
        problems.append(f"{where}.display: required")
    return problems


def response(doc: Any) -> list[str]:
    if not isinstance(doc, dict) or not isinstance(doc.get("cards"), list):
        return ["cards: required array"]
    problems: list[str] = []
    for n, card in enumerate(doc["cards"]):
        w = f"cards[{n}]"
        problems += _absent_or_nonempty(card, w)
        problems += [f"{w}.{k}: unknown field" for k in card if k not in CARD_FIELDS]
        summary = card.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) >= 140:
            problems.append(f"{w}.summary: required, under 140 characters")
        if card.get("indicator") not in INDICATORS:
            problems.append(f"{w}.indicator: one of {sorted(INDICATORS)}")
        source = card.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("label"), str):
            problems.append(f"{w}.source.label: required")
        elif "topic" in source:
            problems += coding(source["topic"], f"{w}.source.topic", display=False)
        suggestions = card.get("suggestions")
        if suggestions is not None:
            behaviour = card.get("selectionBehavior")
            if behaviour not in SELECTION:
                problems.append(
                    f"{w}.selectionBehavior: required with suggestions, one of {sorted(SELECTION)}"
                )
            recommended = sum(1 for s in suggestions if s.get("isRecommended"))
            if behaviour == "at-most-one" and recommended > 1:
                problems.append(f"{w}: at-most-one allows one recommended suggestion")
            for i, s in enumerate(suggestions):
                sw = f"{w}.suggestions[{i}]"
                if not isinstance(s.get("label"), str):
                    problems.append(f"{sw}.label: required")
                for j, a in enumerate(s.get("actions", [])):
                    aw = f"{sw}.actions[{j}]"
                    if a.get("type") not in ACTION_TYPES:
                        problems.append(f"{aw}.type: one of {sorted(ACTION_TYPES)}")
                    if not isinstance(a.get("description"), str):
                        problems.append(f"{aw}.description: required")
                    if a.get("type") == "delete" and ("resourceId" not in a or "resource" in a):
                        problems.append(f"{aw}: delete uses resourceId, not resource")
                    if a.get("type") in ("create", "update") and not isinstance(a.get("resource"), dict):
                        problems.append(f"{aw}.resource: required for {a.get('type')}")
        elif "selectionBehavior" in card:
            problems.append(f"{w}.selectionBehavior: only with suggestions")
        for i, reason in enumerate(card.get("overrideReasons", [])):
            problems += coding(reason, f"{w}.overrideReasons[{i}]", display=True)
        for i, link in enumerate(card.get("links", [])):
            lw = f"{w}.links[{i}]"
            if (
                not all(isinstance(link.get(k), str) for k in ("label", "url"))
                or link.get("type") not in LINK_TYPES
            ):
                problems.append(f"{lw}: label, url and type (absolute|smart) are required")
            if "appContext" in link and link.get("type") != "smart":
                problems.append(f"{lw}.appContext: only for smart links")
    return problems
