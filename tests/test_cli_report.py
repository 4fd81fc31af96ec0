"""``fhir-resist report``: the patient page from files or from a FHIR server, and its errors."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fhir_resist.cli import main
from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_SERVER
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock, hapi_for_the_cli
from tests.page.parsed import parse

ACQUIRED = SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json"
AT = "2026-09-01T09:00:00Z"


def test_report_from_files_writes_a_private_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    assert main(["report", str(ACQUIRED), "--html", str(out), "--at", AT]) == EXIT_OK
    doc = parse(out.read_text(encoding="utf-8"))
    (alert,) = doc.find("article", "alert")
    assert "EGFR p.S492R" in alert.text and "cetuximab" in alert.text
    assert doc.one("time").attrs["datetime"] == "2026-09-01T09:00:00+00:00"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds patient data
    assert str(out) in capsys.readouterr().err


def test_report_without_input_or_to_an_unwritable_place_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--html", str(tmp_path / "p.html")]) == EXIT_INPUT
    assert "give FHIR files" in capsys.readouterr().err
    missing = tmp_path / "no-such-dir" / "p.html"
    assert main(["report", str(ACQUIRED), "--html", str(missing), "--at", AT]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert str(missing) in err and "cannot write the page" in err and "Traceback" not in err
    assert (
        main(["report", "--server", "http://fhir.example/fhir", "--html", str(tmp_path / "p.html")])
        == EXIT_INPUT
    )
    assert "--patient" in capsys.readouterr().err


def test_report_with_a_file_not_read_still_writes_the_page_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    out = tmp_path / "page.html"
    assert main(["report", str(ACQUIRED), str(broken), "--html", str(out), "--at", AT]) == EXIT_INPUT
    assert out.is_file()
    assert str(broken) in capsys.readouterr().err


@pytest.fixture
def hapi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HapiMock]:
    with hapi_for_the_cli(monkeypatch, tmp_path, load_json(ACQUIRED)) as mock:
        yield mock


def test_report_from_a_fhir_server_writes_nothing_back(hapi: HapiMock, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    code = main(["report", "--server", BASE, "--patient", "pat-1", "--html", str(out), "--at", AT])
    assert code == EXIT_OK
    assert "EGFR p.S492R" in parse(out.read_text(encoding="utf-8")).one("article", "alert").text
    assert not [method for method, _, _ in hapi.calls if method != "GET"]


def test_report_from_an_unreachable_server_is_exit_3_and_no_page(
    hapi: HapiMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.fail(times=2, exception=requests.ConnectionError("refused"))
    out = tmp_path / "page.html"
    assert main(["report", "--server", BASE, "--patient", "pat-1", "--html", str(out)]) == EXIT_SERVER
    assert "could not be reached" in capsys.readouterr().err
    assert not out.exists()
