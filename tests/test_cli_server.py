"""The command line against a FHIR server (the HAPI mock): fetch, write back, outbox, exit codes."""

from __future__ import annotations

import errno
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fhir_resist.cli import main
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock, hapi_for_the_cli

KRAS = SCENARIOS / "crc-kras-g12d-cetuximab.json"
AT = ["--at", "2026-04-01T09:00:00Z"]


@pytest.fixture
def hapi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HapiMock]:
    with hapi_for_the_cli(monkeypatch, tmp_path, load_json(KRAS)) as mock:
        yield mock


def test_evaluate_a_patient_on_the_server_and_write_back(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", "--server", BASE, "--patient", "pat-1", "--write", "--summary", *AT])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "KRAS p.G12D" in out
    assert "wrote 5 resources" in err and "5 created" in err
    assert len(hapi.all("DetectedIssue")) == 1
    # a re-run writes nothing new
    assert main(["evaluate", "--server", BASE, "--patient", "Patient/pat-1", "--write", *AT]) == 0
    assert "0 created, 5 updated or unchanged" in capsys.readouterr().err
    assert len(hapi.all("DetectedIssue")) == 1


def test_files_written_to_a_server(hapi: HapiMock, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["evaluate", str(KRAS), "--server", BASE, "--write", "--write-strategy", "conditional", *AT])
        == 0
    )
    sent = [body for method, _, body in hapi.calls if method == "POST"]
    assert sent and all("ifNoneExist" in e["request"] for e in sent[-1]["entry"])  # type: ignore[index]


def test_server_down_exit_3_then_outbox_retry(hapi: HapiMock, capsys: pytest.CaptureFixture[str]) -> None:
    hapi.fail(times=2, method="POST", status=503)
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", *AT]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["type"] == "transaction"  # the result is still printed
    assert "503" in err and "kept as pending" in err and "Traceback" not in err
    assert main(["outbox", "list", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert (item["state"], item["patient"], item["server"]) == ("pending", "Patient/pat-1", f"{BASE}/")
    assert main(["outbox", "retry"]) == 0
    assert "wrote 5 resources" in capsys.readouterr().out
    assert main(["outbox", "list"]) == 0
    assert "is empty" in capsys.readouterr().out
    assert len(hapi.all("DetectedIssue")) == 1


def test_unreachable_server_while_reading_is_exit_3(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.fail(times=2, exception=requests.ConnectionError("refused"))
    assert main(["evaluate", "--server", BASE, "--patient", "pat-1"]) == 3
    err = capsys.readouterr().err
    assert "could not be reached" in err and "Traceback" not in err


def test_unknown_patient_is_exit_3_with_the_servers_words(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--server", BASE, "--patient", "nobody"]) == 3
    assert "HAPI-2001: Resource Patient/nobody is not known" in capsys.readouterr().err


def test_server_without_patient_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--server", BASE]) == 2
    assert "--patient" in capsys.readouterr().err


def test_write_without_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(KRAS), "--write"]) == 2
    assert "FHIR_RESIST_FHIR_BASE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FHIR_RESIST_TIMEOUT", "soon"),
        ("FHIR_RESIST_TIMEOUT", "nan"),
        ("FHIR_RESIST_TIMEOUT", "inf"),
        ("FHIR_RESIST_RETRIES", "inf"),
        ("FHIR_RESIST_RETRIES", "-1"),
    ],
)
def test_bad_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["evaluate", str(KRAS)]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err


def test_serve_builds_the_app_and_runs_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran: dict[str, object] = {}
    monkeypatch.setenv("FHIR_RESIST_STATE_DIR", str(tmp_path / "state"))

    def run(app: object, **options: object) -> None:
        ran.update(app=app, **options)

    monkeypatch.setattr("uvicorn.run", run)
    monkeypatch.setattr("fhir_resist.cdshooks.tuning.tune_gc", lambda: ran.update(tuned=True))
    monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "off")
    assert main(["serve", "--port", "8123", "--processes", "0"]) == 0
    assert ran["tuned"] is True
    assert ran["port"] == 8123 and ran["host"] == "127.0.0.1"
    assert not isinstance(ran["app"], str)
    err = capsys.readouterr().err
    assert "NOT authenticated" in err and "any fhirServer" in err
    assert main(["serve", "--workers", "2"]) == 0
    assert ran["app"] == "fhir_resist.cdshooks.app:service_app"
    assert (ran["factory"], ran["workers"]) == (True, 2)


def test_serve_needs_the_public_url_with_authentication(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv("FHIR_RESIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "jwt")
    monkeypatch.setenv("FHIR_RESIST_CDS_ISSUERS", "https://ehr.example.org")
    monkeypatch.delenv("FHIR_RESIST_PUBLIC_URL", raising=False)
    assert main(["serve", "--processes", "0"]) == 2
    err = capsys.readouterr().err
    assert "FHIR_RESIST_PUBLIC_URL: required with FHIR_RESIST_CDS_AUTH=jwt" in err
    assert "Traceback" not in err


def test_serve_refuses_an_unusable_state_directory_and_warns_of_missing_servers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: ran.append(a))
    monkeypatch.setattr("fhir_resist.cdshooks.tuning.tune_gc", lambda: None)
    monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "jwt")
    monkeypatch.setenv("FHIR_RESIST_CDS_ISSUERS", "https://ehr.example.org")
    monkeypatch.setenv("FHIR_RESIST_PUBLIC_URL", "https://cds.example.org")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("FHIR_RESIST_STATE_DIR", str(tmp_path / "file" / "state"))
    assert main(["serve", "--processes", "0"]) == 2
    assert "state directory" in capsys.readouterr().err and not ran
    monkeypatch.setenv("FHIR_RESIST_STATE_DIR", str(tmp_path / "state"))
    from fhir_resist.cdshooks.shared_state import SharedState

    SharedState(tmp_path / "state").add("hook_calls", "")  # a count of an earlier run
    assert main(["serve", "--processes", "0"]) == 0
    assert "no FHIR servers configured for https://ehr.example.org" in capsys.readouterr().err
    assert SharedState(tmp_path / "state").counts() == []  # counters start from zero


def test_serve_refuses_a_bad_auth_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "maybe")
    assert main(["serve"]) == 2
    assert "FHIR_RESIST_CDS_AUTH" in capsys.readouterr().err


def _without_patient(bundle: dict[str, object]) -> dict[str, object]:
    """The bundle's resources less the Patient and every subject / patient reference."""
    entries = bundle["entry"]
    assert isinstance(entries, list)
    kept = []
    for entry in entries:
        resource = dict(entry["resource"])
        if resource["resourceType"] == "Patient":
            continue
        resource.pop("subject", None)
        resource.pop("patient", None)
        kept.append({"resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": kept}


def test_write_is_refused_when_the_input_names_no_patient(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    nobody = tmp_path / "no-patient.json"
    nobody.write_text(json.dumps(_without_patient(load_json(KRAS))), encoding="utf-8")
    before = len(hapi.calls)
    assert main(["evaluate", str(nobody), "--server", BASE, "--write", *AT]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["type"] == "transaction"  # the results are still printed
    assert "--write refused: the input names no Patient" in err and "nothing was written" in err
    assert hapi.calls[before:] == []  # not even a search: the server was never asked
    assert hapi.all("GuidanceResponse") == [] and hapi.all("Provenance") == []


def test_write_is_refused_when_the_input_was_not_read_whole(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = len(hapi.calls)
    code = main(["evaluate", str(KRAS), str(tmp_path / "missing.json"), "--server", BASE, "--write", *AT])
    assert code == 2
    err = capsys.readouterr().err
    assert "--write refused: the input was not read whole" in err and "missing.json" in err
    assert hapi.calls[before:] == []
    assert main(["evaluate", str(KRAS), "--tumour", "XYZ", "--server", BASE, "--write", *AT]) == 2
    assert "--tumour 'XYZ' is not an OncoTree code" in capsys.readouterr().err
    assert hapi.calls[before:] == []


@pytest.mark.parametrize("patient", ["../pat-1", "pat-1/../x", "pat\n1", "Patient/..", "x" * 65])
def test_a_patient_that_is_no_fhir_id_is_refused_before_anything_is_fetched(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str], patient: str
) -> None:
    assert main(["evaluate", "--server", BASE, "--patient", patient, *AT]) == 2
    err = capsys.readouterr().err
    assert "--patient" in err and "not a FHIR id" in err
    assert hapi.calls == []


# ---- durability: written ahead, kept on local errors, never resent over a newer result ----------


class _HangingServer(http.server.ThreadingHTTPServer):
    """A FHIR server that answers searches with nothing and never answers the transaction: the
    moment of sending, held open until the test kills the sender."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HangingHandler)
        self.sending = threading.Event()
        self.release = threading.Event()


class _HangingHandler(http.server.BaseHTTPRequestHandler):
    server: _HangingServer

    def do_GET(self) -> None:
        body = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.sending.set()
        self.server.release.wait(timeout=120)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_kill_while_sending_leaves_the_result_for_retry_which_sends_it_once(
    hapi: HapiMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _HangingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    env = {**os.environ, "FHIR_RESIST_OUTBOX": str(tmp_path / "outbox"), "FHIR_RESIST_TIMEOUT": "120"}
    command = [
        sys.executable,
        "-m",
        "fhir_resist.cli",
        "evaluate",
        str(KRAS),
        "--server",
        url,
        "--write",
        *AT,
    ]
    sender = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert server.sending.wait(timeout=120), sender.stderr.read() if sender.stderr else ""
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=60)
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
    assert sender.returncode == -signal.SIGKILL
    assert main(["outbox", "list", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert (item["state"], item["error"], item["evaluated"]) == (
        "pending",
        "not yet sent",
        "2026-04-01T09:00:00Z",
    )
    assert main(["outbox", "retry", "--server", BASE]) == 0
    assert "wrote 5 resources" in capsys.readouterr().out
    assert main(["outbox", "retry", "--server", BASE]) == 0
    assert "nothing to retry" in capsys.readouterr().out
    posts = [url for method, url, _ in hapi.calls if method == "POST"]
    assert len(posts) == 1
    assert len(hapi.all("DetectedIssue")) == len(hapi.all("GuidanceResponse")) == 1


def test_an_outbox_that_cannot_be_written_is_refused_before_evaluating(
    hapi: HapiMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("FHIR_RESIST_OUTBOX", str(blocker / "outbox"))
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", *AT]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{blocker / 'outbox'} is not writable" in err and "--outbox" in err
    assert hapi.calls == []


@pytest.mark.parametrize("summary", [False, True], ids=["json", "summary"])
def test_a_full_disk_and_a_failing_server_print_the_result_instead_of_losing_it(
    hapi: HapiMock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], summary: bool
) -> None:
    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("fhir_resist.fhir.outbox.atomic_write", full)
    hapi.fail(times=2, method="POST", status=503)
    args = ["evaluate", str(KRAS), "--server", BASE, "--write", *AT, *(["--summary"] if summary else [])]
    assert main(args) == 3
    out, err = capsys.readouterr()
    printed = json.loads(out[out.index("{") :])
    assert printed["type"] == "transaction" and len(printed["entry"]) == 5
    assert "503" in err and "could not be written" in err
    assert "NOT kept" in err and "standard output" in err and "Traceback" not in err


def test_retry_is_not_a_success_while_refused_results_wait(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.store.clear()
    hapi.order.clear()  # the patient's record is not on this server: HAPI-1094
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", *AT]) == 3
    assert "rejected by the server" in capsys.readouterr().err
    assert main(["outbox", "retry"]) == 3
    captured = capsys.readouterr()
    assert "nothing to retry" in captured.out
    assert "refused are still waiting" in captured.err and "--include-rejected" in captured.err


def test_an_older_evaluation_is_not_written_over_a_newer_one(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", "--at", "2026-04-02T09:00:00Z"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", "--at", "2026-04-01T09:00:00Z"]) == 3
    err = capsys.readouterr().err
    assert "not written: superseded by evaluation" in err and "2026-04-02T09:00:00Z on the server" in err
    assert main(["outbox", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("superseded evaluated 2026-04-01T09:00:00Z  Patient/pat-1")
    assert main(["outbox", "retry"]) == 0
    (guidance,) = hapi.all("GuidanceResponse")
    assert guidance["occurrenceDateTime"] == "2026-04-02T09:00:00Z"


def test_outbox_list_shows_items_of_the_first_format(
    hapi: HapiMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = json.loads(_evaluated(capsys))
    key = next(
        i["value"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "GuidanceResponse"
        for i in e["resource"]["identifier"]
    )
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    item = {
        "format": "fhir-resist-outbox/1",
        "key": key,
        "server": f"{BASE}/",
        "created": "2026-04-01T09:00:05+00:00",
        "updated": "2026-04-01T09:00:05+00:00",
        "attempts": 3,
        "state": "pending",
        "error": "HTTP 503",
        "outcome": None,
        "scope": {"patient": "Patient/pat-1", "therapies": ["MedicationRequest/mr-cetux"]},
        "bundle": bundle,
    }
    (outbox / f"{key}.json").write_text(json.dumps(item))
    assert main(["outbox", "list"]) == 0
    assert "pending    evaluated 2026-04-01T09:00:00Z  Patient/pat-1" in capsys.readouterr().out
    assert main(["outbox", "retry"]) == 0
    assert len(hapi.all("DetectedIssue")) == 1
    assert list(outbox.glob("*.json")) == []


def _evaluated(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["evaluate", str(KRAS), *AT]) == 0
    return capsys.readouterr().out


def test_outbox_list_shows_an_item_another_process_is_sending(
    hapi: HapiMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.fail(times=2, method="POST", status=503)
    assert main(["evaluate", str(KRAS), "--server", BASE, "--write", *AT]) == 3
    capsys.readouterr()
    outbox = Outbox(tmp_path / "outbox")
    (item,), _ = outbox.items()
    with outbox.lock(item.lock_name) as held:
        assert held
        assert main(["outbox", "list", "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["state"] == "sending"
        assert main(["outbox", "retry"]) == 0  # that process reports it; nothing is sent here
        assert "being sent by another process" in capsys.readouterr().out
    assert len(hapi.all("DetectedIssue")) == 0
    assert main(["outbox", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "pending"
