"""The feedback file holds clinicians' comments about patients: only its owner can read it."""

from __future__ import annotations

import os
from pathlib import Path

from fhir_resist.cdshooks.feedback import FeedbackStore, parse
from tests.conftest import file_mode

ITEM = {
    "feedback": [
        {
            "card": "card-1",
            "outcome": "overridden",
            "overrideReason": {"userComment": "patient declined; see note of 3 May"},
            "outcomeTimestamp": "2026-05-03T10:05:31Z",
        }
    ]
}


def test_the_feedback_file_is_0600_in_a_0700_directory(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "state" / "fhir-resist" / "feedback.jsonl"
    assert FeedbackStore(path).record("svc", parse(ITEM)).new == 1
    assert file_mode(path) == 0o600
    assert file_mode(path.parent) == file_mode(path.parent.parent) == 0o700


def test_a_feedback_file_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    FeedbackStore(path).record("svc", parse(ITEM))
    assert file_mode(path) == 0o600
    assert len(FeedbackStore(path).items()) == 1
