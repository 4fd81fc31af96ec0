"""The command line: commands, outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.server import LimitedHttpTools
from fhir_resist.cli import main
from tests.conftest import EXAMPLES, ROOT, SCENARIOS, two_cancer_types


def test_evaluate_prints_a_transaction_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--at", "2026-04-01T09:00:00Z"])
    assert code == 0
    bundle = json.loads(capsys.readouterr().out)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"


def test_evaluate_summary_explains_the_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "[HIGH] cetuximab" in out
    assert "KRAS p.G12D" in out
    assert "Mechanism: downstream" in out
    assert "What to do:" in out and "bevacizumab" in out


def test_evaluate_out_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    assert main(["evaluate", str(SCENARIOS / "crc-ras-wt-panitumumab.json"), "--out", str(target)]) == 0
    assert json.loads(target.read_text())["type"] == "transaction"


def test_missing_file_is_exit_2_naming_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert main(["evaluate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "nope.json" in err and "Traceback" not in err


def test_truncated_json_is_exit_2_with_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Bundle", "entry": [')
    assert main(["evaluate", str(bad)]) == 2
    assert "bad.json:1:" in capsys.readouterr().err


def test_one_bad_file_does_not_stop_the_others(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    code = main(["evaluate", str(bad), str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--summary"])
    captured = capsys.readouterr()
    assert code == 2  # the others were evaluated and printed, but the input was not read whole
    assert "bad.json" in captured.err
    assert "cetuximab" in captured.out


def test_ndjson_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bundle = json.loads((SCENARIOS / "crc-kras-g12d-cetuximab.json").read_text())
    lines = [json.dumps(e["resource"]) for e in bundle["entry"]] + ["{broken"]
    path = tmp_path / "patient.ndjson"
    path.write_text("\n".join(lines))
    assert main(["evaluate", str(path), "--summary"]) == 2  # a line was skipped
    captured = capsys.readouterr()
    assert "[HIGH] cetuximab" in captured.out
    assert "patient.ndjson:8" in captured.err


def test_bad_at_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--at", "yesterday"]) == 2
    assert "--at" in capsys.readouterr().err


def test_inspect_json_shows_what_was_understood(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(SCENARIOS / "crc-bad-input-mixed.json"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    braf = next(a for a in data["alterations"] if a["source"] == "Observation/v-braf")
    assert braf["protein"] == "p.V600E" and braf["codon"] == 600 and braf["call"] == "present"
    assert any("v-garbage" in m["where"] for m in data["messages"])
    assert data["therapies"][0]["source"] == "MedicationRequest/mr-cetux"


def test_catalogue_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "validate"]) == 0
    assert "all valid" in capsys.readouterr().out
    assert main(["catalogue", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"id", "effect", "mechanism", "level"} <= set(rows[0])
    assert main(["catalogue", "show", rows[0]["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == rows[0]["id"]
    assert main(["catalogue", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"]["total"] == len(rows)
    assert main(["catalogue", "show", "no-such-rule"]) == 2


def test_invalid_catalogue_is_exit_2_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", copy)
    (copy / "catalogue.yaml").write_text("version: 2026.11.0\ndate: 2026-11-23\ntitel: typo\n")
    assert main(["--catalogue", str(copy), "catalogue", "validate"]) == 2
    err = capsys.readouterr().err
    assert "catalogue.yaml:3" in err and "titel" in err


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_evaluates(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(EXAMPLES / example), "--summary"]) == 0
    assert "fhir_resist" in capsys.readouterr().out


def test_several_patients_need_patient(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = json.loads((SCENARIOS / "crc-kras-g12d-cetuximab.json").read_text())
    b = json.loads((EXAMPLES / "crc-braf-v600e-panitumumab.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["evaluate", str(tmp_path), "--summary"]) == 2
    assert "choose one with --patient" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--summary", "--patient", "pat-1"]) == 0
    out = capsys.readouterr().out
    assert "Patient/pat-1" in out
    assert main(["inspect", str(tmp_path), "--patient", "Patient/nobody"]) == 2


def test_published_schema_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((ROOT / "catalogue" / "schema.json").read_text()), (
        "catalogue/schema.json is stale: regenerate it with `fhir-resist catalogue schema`"
    )


def test_an_internal_error_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_resist.engine import assess

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.delenv("FHIR_RESIST_DEBUG", raising=False)
    monkeypatch.setattr(assess, "assess", broken)
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json")]) == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: boom)" in err
    assert "Traceback" not in err


class _Served:
    """``serve`` up to the point where uvicorn would take over: what it would run, with what."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
        import uvicorn

        from fhir_resist.cdshooks import app, tuning

        self.settings: list[app.ServiceSettings] = []
        self.runs: list[dict[str, object]] = []

        def create_app(settings: app.ServiceSettings, **_: object) -> str:
            self.settings.append(settings)
            return "app"

        def run(target: object, **kw: object) -> None:
            self.runs.append({"target": target, **kw})

        monkeypatch.setattr(app, "create_app", create_app)
        monkeypatch.setattr(tuning, "tune_gc", lambda: None)
        monkeypatch.setattr(uvicorn, "run", run)
        monkeypatch.delenv("FHIR_RESIST_PROCESSES", raising=False)
        monkeypatch.delenv("FHIR_RESIST_CATALOGUE", raising=False)
        monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "off")
        monkeypatch.setenv("FHIR_RESIST_STATE_DIR", str(state_dir))


def test_serve_evaluates_in_one_process_per_core_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fhir_resist.cdshooks.evaluators import usable_cores

    served = _Served(monkeypatch, tmp_path)
    assert main(["serve", "--port", "8123"]) == 0
    (settings,) = served.settings
    assert settings.processes == usable_cores()
    (run,) = served.runs
    protocol = run.pop("http")
    assert run == {
        "target": "app",
        "host": "127.0.0.1",
        "port": 8123,
        "log_level": "info",
        "limit_concurrency": 512,  # the limits before the app (FHIR_RESIST_MAX_CONNECTIONS ...)
        "timeout_keep_alive": 5,
    }
    assert isinstance(protocol, type) and issubclass(protocol, LimitedHttpTools)
    assert protocol.limits == Limits()


def test_serve_processes_option_environment_and_http_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import os

    served = _Served(monkeypatch, tmp_path)
    assert main(["--catalogue", str(ROOT / "catalogue"), "serve", "--processes", "0"]) == 0
    assert served.settings[-1].processes == 0
    assert served.settings[-1].catalogue_path == (ROOT / "catalogue").resolve()
    monkeypatch.setenv("FHIR_RESIST_PROCESSES", "3")
    assert main(["serve"]) == 0
    assert served.settings[-1].processes == 3
    monkeypatch.delenv("FHIR_RESIST_PROCESSES")
    assert main(["serve", "--workers", "2"]) == 0  # HTTP workers, each evaluating in-process
    assert served.runs[-1]["workers"] == 2
    assert served.runs[-1]["http"] == "fhir_resist.cdshooks.server:LimitedHttpTools"
    assert os.environ["FHIR_RESIST_PROCESSES"] == "0"
    assert main(["serve", "--processes", "-1"]) == 2
    assert "--processes: must be 0 or more" in capsys.readouterr().err
    monkeypatch.setenv("FHIR_RESIST_PROCESSES", "many")
    assert main(["serve"]) == 2
    assert "service configuration" in capsys.readouterr().err


def test_the_cli_adds_its_own_hint_on_the_cancer_type(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    two = tmp_path / "two-cancer-types.json"
    two.write_text(json.dumps(two_cancer_types()), encoding="utf-8")
    assert main(["evaluate", str(two), "--summary"]) == 0
    assert "choose one with --tumour" in capsys.readouterr().err
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--tumour", "NOPE"]) == 2
    assert "--tumour NOPE: not an OncoTree code" in capsys.readouterr().err
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--tumour", "COADREAD"]) == 0
    assert "--tumour" not in capsys.readouterr().err


def test_a_missing_file_beside_a_good_one_is_exit_2_and_the_good_one_is_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = SCENARIOS / "crc-kras-g12d-cetuximab.json"
    code = main(["evaluate", str(good), str(tmp_path / "missing.json"), "--summary"])
    captured = capsys.readouterr()
    assert code == 2
    assert "missing.json: cannot read file" in captured.err
    assert "[HIGH] cetuximab" in captured.out
    assert main(["inspect", str(good), str(tmp_path / "missing.json")]) == 2
    captured = capsys.readouterr()
    assert "missing.json" in captured.err and "KRAS" in captured.out


def test_an_unknown_tumour_override_is_exit_2_and_the_conditions_are_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--tumour", "XYZ", "--summary"])
    captured = capsys.readouterr()
    assert code == 2
    assert "--tumour XYZ: not an OncoTree code in the catalogue" in captured.err
    assert "[HIGH] cetuximab" in captured.out  # assessed on the recorded Condition (colorectal)
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--tumour", "coadread"]) == 0
    assert main(["evaluate", str(SCENARIOS / "crc-kras-g12d-cetuximab.json"), "--tumour", ""]) == 2


def _population(tmp_path: Path) -> Path:
    """Two patients' files and one of no use in a directory."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("crc-kras-g12d-cetuximab.json", "crc-ras-wt-panitumumab.json"):
        (folder / name).write_text((EXAMPLES / name).read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_all_patients_writes_one_bundle_per_patient_named_by_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    folder = str(_population(tmp_path))
    code = main(
        [
            "evaluate",
            folder,
            "--all-patients",
            "--out-dir",
            str(out),
            "--workers",
            "2",
            "--at",
            "2026-12-01T09:00:00Z",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["kr12-pt.json", "raswt-pt.json"]
    alone = tmp_path / "alone.json"
    main(
        [
            "evaluate",
            str(EXAMPLES / "crc-kras-g12d-cetuximab.json"),
            "--out",
            str(alone),
            "--at",
            "2026-12-01T09:00:00Z",
        ]
    )
    assert json.loads((out / "kr12-pt.json").read_text()) == json.loads(alone.read_text())
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("fhir-resist: Patient/kr12-pt: ") and "-> " in err[0]
    assert err[1].startswith("fhir-resist: Patient/raswt-pt: ")
    assert "2 patient(s) evaluated, 0 not" in err[2]


def test_workers_started_while_a_large_input_is_read_write_the_same_files_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fhir_resist import batch
    from fhir_resist.cli import population

    folder, at = str(_population(tmp_path)), "2026-12-01T09:00:00Z"
    argv = ["evaluate", folder, "--all-patients", "--workers", "2", "--at", at, "--out-dir"]
    assert main([*argv, str(tmp_path / "later")]) == 0  # under 1 MiB: workers start after reading
    started: list[int] = []
    real = batch.Workers

    def counted(workers: int, catalogue: str, options: batch.Options) -> batch.Workers:
        started.append(workers)
        return real(workers, catalogue, options)

    monkeypatch.setattr(population, "AHEAD_BYTES", 0)
    monkeypatch.setattr(batch, "Workers", counted)
    assert main([*argv, str(tmp_path / "ahead")]) == 0
    assert started == [2]
    for name in ("kr12-pt", "raswt-pt"):
        alone = tmp_path / f"{name}-alone.json"
        source = next(p for p in Path(folder).iterdir() if name.split("-")[0] in p.read_text())
        assert main(["evaluate", str(source), "--out", str(alone), "--at", at]) == 0
        expected = alone.read_bytes()
        assert (tmp_path / "ahead" / f"{name}.json").read_bytes() == expected
        assert (tmp_path / "later" / f"{name}.json").read_bytes() == expected


def test_all_patients_without_out_dir_prints_one_bundle_a_line_in_id_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["evaluate", str(_population(tmp_path)), "--all-patients", "--workers", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    bundles = [json.loads(line) for line in lines]
    assert len(bundles) == 2
    assert "Patient/kr12-pt" in lines[0] and "Patient/raswt-pt" not in lines[0]
    assert "Patient/raswt-pt" in lines[1] and all(b["type"] == "transaction" for b in bundles)


def test_all_patients_names_what_it_could_not_read_and_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _population(tmp_path)
    (folder / "broken.json").write_text("{", encoding="utf-8")
    stray = {"resourceType": "Observation", "id": "stray", "status": "final", "code": {"text": "x"}}
    (folder / "stray.json").write_text(json.dumps(stray), encoding="utf-8")
    code = main(
        ["evaluate", str(folder), "--all-patients", "--out-dir", str(tmp_path / "out"), "--workers", "1"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "broken.json" in err and "Observation/stray: names no patient" in err
    assert "2 patient(s) evaluated, 0 not" in err


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--patient", "kr12-pt"], "--patient names one patient's input"),
        (["--tumour", "COADREAD"], "--tumour names one patient's input"),
        (["--workers", "0"], "--workers: at least 1"),
    ],
)
def test_all_patients_refuses_options_for_one_patient(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], said: str
) -> None:
    assert main(["evaluate", str(_population(tmp_path)), "--all-patients", *extra]) == 2
    assert said in capsys.readouterr().err


def test_out_dir_without_all_patients_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate", str(EXAMPLES / "crc-kras-g12d-cetuximab.json"), "--out-dir", str(tmp_path)]) == 2
    assert "--out-dir and --workers go with --all-patients" in capsys.readouterr().err


def test_progress_line_on_a_terminal_only() -> None:
    import io

    from fhir_resist.cli.population import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen, log = Terminal(), io.StringIO()
    for stream in (screen, log):
        shown = Progress(stream, 2)
        for text in ("Patient/a: success", "Patient/b: success"):
            shown.line((text, False))
            shown.step()
        shown.done()
    assert "2/2 patients" in screen.getvalue() and "left" in screen.getvalue()
    assert "Patient/a" not in screen.getvalue()
    assert log.getvalue() == "fhir-resist: Patient/a: success\nfhir-resist: Patient/b: success\n"


def test_profiles_writes_the_conformance_resources_as_the_repository_holds_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "profiles"
    assert main(["profiles", str(target)]) == 0
    written = sorted(p.name for p in target.iterdir())
    assert f"wrote {len(written)} files to {target}" in capsys.readouterr().out
    assert written == sorted(p.name for p in (ROOT / "profiles").glob("*.json"))
    for name in written:
        assert json.loads((target / name).read_text(encoding="utf-8")) == json.loads(
            (ROOT / "profiles" / name).read_text(encoding="utf-8")
        ), name


def test_all_patients_in_its_own_process_reads_without_collections_then_freezes_what_it_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    import fhir_resist.cli.evaluate as evaluate_command

    reading = evaluate_command._read
    enabled: list[bool] = []

    def read(paths: list[str]) -> object:
        enabled.append(gc.isenabled())
        return reading(paths)

    monkeypatch.setattr(evaluate_command, "_read", read)
    threshold = gc.get_threshold()
    try:
        argv = ["evaluate", str(_population(tmp_path)), "--all-patients", "--out-dir", str(tmp_path / "out")]
        assert main([*argv, "--workers", "1"], own_process=True) == 0
        assert enabled == [False]  # parsed JSON holds no cycles: nothing to collect while reading
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
