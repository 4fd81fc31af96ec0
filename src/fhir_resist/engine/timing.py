"""Primary, acquired or undetermined: when an alteration appeared relative to a therapy."""

from __future__ import annotations

from fhir_resist.domain import Call, Therapy
from fhir_resist.engine.longitudinal import History
from fhir_resist.engine.model import Finding, TimingCall


def timing_for(finding: Finding, therapy: Therapy) -> tuple[TimingCall, str]:
    """Primary, acquired or undetermined for this therapy, from the variant's sample history."""
    return timing_of(finding.history, therapy)


def timing_of(history: History, therapy: Therapy) -> tuple[TimingCall, str]:
    """Primary, acquired or undetermined for this therapy, from a sample history."""
    if therapy.proposed or therapy.start is None:
        return TimingCall.PRIMARY, "found before the therapy (which is proposed or has no start date)"
    start = therapy.start
    samples = [s for s in history.samples if s.when is not None]
    present = [s for s in samples if s.call is Call.PRESENT]
    if not present:
        return TimingCall.UNDETERMINED, "the sample date is unknown"
    first = present[0]
    assert first.when is not None
    if first.when <= start:
        return (
            TimingCall.PRIMARY,
            f"found in a sample of {first.when.isoformat()} ({first.date_source}), "
            f"before therapy started on {start.isoformat()}",
        )
    baseline = [s for s in samples if s.call is Call.ABSENT and s.when is not None and s.when < first.when]
    if baseline:
        when = baseline[-1].when
        assert when is not None
        return (
            TimingCall.ACQUIRED,
            f"absent in the sample of {when.isoformat()}, present on "
            f"{first.when.isoformat()} after therapy started on {start.isoformat()}",
        )
    return (
        TimingCall.UNDETERMINED,
        f"first tested on {first.when.isoformat()}, after therapy started on "
        f"{start.isoformat()}; no earlier result for this alteration",
    )
