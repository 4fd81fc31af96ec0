"""The error files read line by line: issues counted by severity, the first messages kept."""

from __future__ import annotations

import json
from pathlib import Path

from fhir_resist.bulk.outcomes import FIRST, ErrorSummary, summarise


def _outcome(*issues: object) -> str:
    return json.dumps({"resourceType": "OperationOutcome", "issue": list(issues)})


def test_severities_messages_and_lines_that_are_no_outcome(tmp_path: Path) -> None:
    first = tmp_path / "OperationOutcome-1.ndjson"
    first.write_text(
        "\n".join(
            [
                _outcome({"severity": "warning", "details": {"text": "  two\\n lines \x1b[31m "}}),
                "",
                "not json",
                json.dumps({"resourceType": "Patient", "id": "p"}),
                _outcome({"severity": "error", "code": "not-found"}, "odd"),
            ]
        )
        + "\n"
    )
    second = tmp_path / "OperationOutcome-2.ndjson"
    second.write_text(
        "\n".join(_outcome({"severity": "information", "diagnostics": f"n{n}"}) for n in range(9))
    )
    summary = summarise([first, second])
    assert summary.severities == {"warning": 1, "error": 2, "information": 9}
    assert summary.unreadable == 2
    assert summary.issues == 12
    assert summary.missing_resources
    assert summary.messages == (
        "warning: two\\n lines [31m",  # the escape character itself is gone
        "OperationOutcome-1.ndjson:3: not an OperationOutcome",
        "OperationOutcome-1.ndjson:4: not an OperationOutcome",
        "error: not-found",
        "error: no text",
    )
    assert len(summary.messages) == FIRST
    assert ErrorSummary.from_json(summary.as_json()) == summary


def test_information_alone_is_no_missing_resource(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text(_outcome({"severity": "information", "diagnostics": "no Specimen in the group"}))
    summary = summarise([path])
    assert not summary.missing_resources
    assert ErrorSummary.from_json(None) == ErrorSummary()
