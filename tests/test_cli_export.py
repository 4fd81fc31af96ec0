"""``fhir-resist export`` against the mocked HAPI with ``$export`` (tests/bulk/hapi_export.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from fhir_resist.cli import main
from fhir_resist.cli.export import _Line
from tests.bulk.conftest import population
from tests.bulk.hapi_export import HapiBulk
from tests.hapi import BASE


@pytest.fixture
def hapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[HapiBulk]:
    for name in ("FHIR_RESIST_FHIR_BASE", "FHIR_RESIST_FHIR_TOKEN", "FHIR_RESIST_SMART_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock = HapiBulk(rsps, polls=0)  # complete at the first status check: the command sleeps for real
        mock.seed(*population())
        yield mock


def test_export_a_group(hapi: HapiBulk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    code = main(["export", "--server", BASE, "--token", "tok", "--group", "sequenced", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"export done: 12 resources in 6 files in {out}" in printed.out
    assert "  Observation: 2" in printed.out
    assert "fhir-resist: export started at Group/sequenced/$export\n" in printed.err  # not a terminal: lines
    assert "fhir-resist: downloading Patient-1.ndjson (1/6)\n" in printed.err
    assert json.loads((out / "export.json").read_text())["resources"]["Patient"] == 2
    assert (
        main(["export", "--server", BASE, "--token", "tok", "--group", "sequenced", "--out", str(out)]) == 0
    )
    assert "export was complete already" in capsys.readouterr().out


def test_types_since_and_filters_reach_the_server(hapi: HapiBulk, tmp_path: Path) -> None:
    argv = ["export", "--server", BASE, "--patients", "--type", "Patient,Observation", "--type", "Condition"]
    argv += [
        "--type-filter",
        "Observation?status=final",
        "--since",
        "2020-01-01T00:00:00Z",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    kick_off = hapi.seen[0][1]
    assert kick_off.startswith(f"{BASE}/Patient/$export?_type=Patient%2CObservation%2CCondition&_typeFilter=")
    assert "&_since=2020-01-01T00%3A00%3A00Z" in kick_off


def test_error_files_reporting_missing_resources_exit_3(
    hapi: HapiBulk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.errors = [
        {"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "diagnostics": "disk full"}]}
    ]
    assert main(["export", "--server", BASE, "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "the server's error files report 1 fatal:\n  fatal: disk full" in err
    assert "the export is incomplete" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "Encounter"], "--type: 'Encounter' is not read"),
        (["--patients", "--type", "Medication"], "--type: Medication is in no patient compartment"),
        (["--since", "yesterday"], "--since: 'yesterday' is not a FHIR instant"),
        (["--timeout", "0"], "--timeout: must be a positive number"),
        (["--group", "a/b"], "--group: 'a/b' is not a FHIR id"),
    ],
)
def test_bad_options_exit_2(
    hapi: HapiBulk, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["export", "--server", BASE, "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert hapi.seen == []


def test_a_refusal_exits_3_with_hapis_words(
    hapi: HapiBulk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--server", BASE, "--group", "nobody", "--out", str(tmp_path)]) == 3
    assert "HAPI-2001: Resource Group/nobody is not known" in capsys.readouterr().err


def test_an_interruption_says_how_to_continue(
    hapi: HapiBulk, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_resist.bulk import job

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "download", interrupted)
    assert main(["export", "--server", BASE, "--out", str(tmp_path)]) == 3
    assert "export interrupted; see" in capsys.readouterr().err
    assert not any(m == "DELETE" for m, _, _ in hapi.seen)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_one_line_rewritten() -> None:
    stream = _Terminal()
    line = _Line(stream)
    line.show("a")
    line.show("b")
    line.done()
    line.done()
    assert stream.getvalue() == "\r\x1b[Kfhir-resist: a\r\x1b[Kfhir-resist: b\n"
