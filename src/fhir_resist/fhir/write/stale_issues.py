"""Withdrawing stale findings: our earlier DetectedIssues that a new evaluation no longer raises."""

from __future__ import annotations

from typing import Any

from fhir_resist import terminology
from fhir_resist.fhir.write.xhtml import withdrawn_text

JSON = dict[str, Any]

WITHDRAWN_STATUSES = frozenset({"cancelled", "entered-in-error"})


def withdrawals(
    existing: list[JSON], bundle: JSON, *, patient: str | None, therapies: tuple[str, ...], base: str, at: str
) -> list[JSON]:
    """Transaction entries that cancel our earlier DetectedIssues this evaluation no longer raises.

    Only issues of ``patient`` that carry our finding identifier and implicate one of the
    ``therapies`` this evaluation assessed are touched (an evaluation that did not look at a
    drug says nothing about it). Each is a versioned update (``If-Match``), so a concurrent
    change is detected instead of overwritten.
    """
    raised = {
        ident.get("value")
        for entry in bundle.get("entry") or []
        if (resource := entry.get("resource") or {}).get("resourceType") == "DetectedIssue"
        for ident in resource.get("identifier") or []
        if ident.get("system") == terminology.NS_FINDING
    }
    assessed = set(therapies)
    entries: list[JSON] = []
    for issue in existing:
        ours = [
            i.get("value") for i in issue.get("identifier") or [] if i.get("system") == terminology.NS_FINDING
        ]
        implicated = {r.get("reference") for r in issue.get("implicated") or [] if isinstance(r, dict)}
        if (
            issue.get("resourceType") != "DetectedIssue"
            or not ours
            or not isinstance(issue.get("id"), str)
            or issue.get("status") in WITHDRAWN_STATUSES
            or (issue.get("patient") or {}).get("reference") != patient
            or any(value in raised for value in ours)
            or not implicated & assessed
        ):
            continue
        meta = {k: v for k, v in (issue.get("meta") or {}).items() if k in ("profile", "tag", "security")}
        withdrawn = {**issue, "status": "cancelled"}
        if meta:
            withdrawn["meta"] = meta
        else:
            withdrawn.pop("meta", None)
        note = f" Withdrawn {at}: a later evaluation no longer supports this finding."
        withdrawn["detail"] = (issue.get("detail") or "").rstrip() + note
        withdrawn["text"] = withdrawn_text(withdrawn["detail"])
        request: JSON = {"method": "PUT", "url": f"DetectedIssue/{issue['id']}"}
        version = (issue.get("meta") or {}).get("versionId")
        if isinstance(version, str):
            request["ifMatch"] = f'W/"{version}"'
        full_url = f"{base.rstrip('/')}/DetectedIssue/{issue['id']}"
        entries.append({"fullUrl": full_url, "resource": withdrawn, "request": request})
    return entries
