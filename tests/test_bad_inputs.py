"""Bad input never crashes the command line: a result (exit 0), one line naming the file (exit 2),
or a result with a line naming what was not read (exit 2: part of an NDJSON file skipped).

Every file of ``tests/data/bad/`` goes through ``fhir-resist inspect --json`` and ``fhir-resist
evaluate`` in-process. Exit 1 (an internal error) and tracebacks are defects; the inputs found to
cause them are kept here as strict expected failures until they are fixed. Large and deep inputs
are generated, and a property test sends FHIR-shaped noise through the whole evaluate path.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import generate
from fhir_resist import Catalogue, terminology
from fhir_resist.cli import main
from fhir_resist.fhir.read import INTERNAL_ERROR
from tests.conftest import DATA, EXAMPLES, load_json

BAD = DATA / "bad"
AT = "2026-11-30T09:00:00Z"
COMMANDS = ("inspect", "evaluate")

# Where a message points: a resource (Type/id, with an element after it), a path into the input
# (input[0].entry[3]...), a urn:uuid fullUrl, or the patient choice.
WHERE = re.compile(r"^(?:[A-Za-z]+/\S+|input\[\d+\]\S*|urn:uuid:\S+|Patient)$")


@pytest.fixture(autouse=True)
def _catalogue_loaded_once(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line loads the catalogue on every call; load the bundled one once instead."""
    monkeypatch.setattr("fhir_resist.catalogue.load_catalogue", lambda *_args: catalogue)


@dataclass(frozen=True)
class Expect:
    exit: int  # of both commands, when they behave
    messages: tuple[tuple[str, str], ...] = ()  # (in where, in text) that inspect --json must report


NOT_JSON = Expect(2)

EXPECTED: dict[str, Expect] = {
    "truncated.json": NOT_JSON,
    "empty.json": NOT_JSON,
    "whitespace-only.json": NOT_JSON,
    "fhir-xml.json": NOT_JSON,
    "hl7v2-message.json": NOT_JSON,
    "json-scalar.json": NOT_JSON,
    "json-null.json": NOT_JSON,
    "json-list-of-numbers.json": NOT_JSON,
    "utf8-bom.json": Expect(0),  # read past the byte-order mark, as the service reads it
    "latin1-encoded.json": NOT_JSON,
    "pretty-printed.ndjson": NOT_JSON,
    "all-bad-lines.ndjson": NOT_JSON,
    "nan-infinity.json": Expect(
        0, (("Observation/kr12-kras-g12d.component:sample-allelic-frequency", "not a number"),)
    ),
    "huge-integer.json": Expect(2),
    # an NDJSON line skipped: the rest is read and answered, and the exit is 2
    "huge-integer.ndjson": Expect(2, (("huge-integer.ndjson:6", "more than 4300 digits"),)),
    "integer-too-large-vaf.json": Expect(
        0, (("Observation/kr12-kras-g12d.component:sample-allelic-frequency", "not a number"),)
    ),
    "integer-too-large-copy-number.json": Expect(
        0, (("Observation/erbb2-cn.component:copy-number", "without a copy number"),)
    ),
    "integer-too-large-tmb.json": Expect(0, (("Observation/tmb.valueQuantity", "no usable numeric value"),)),
    "integer-too-large-tumour-fraction.json": Expect(0, (("Observation/tf-1.valueQuantity", "not used"),)),
    "wrong-resource-type.json": Expect(
        0,
        (
            ("input[0].entry[3].resource", "no resourceType"),
            ("Observaton/kr12-kras-g12d", "not used"),
        ),
    ),
    "lowercase-bundle.json": Expect(0, (("input[0].resourceType", "'bundle' is not a FHIR resource type"),)),
    "no-resource-type.json": Expect(0, (("input[0]", "no resourceType"),)),
    "bundle-without-entry.json": Expect(0),
    "bundle-empty-entry-list.json": Expect(0),
    "bundle-entry-without-resource.json": Expect(
        0,
        (
            ("input[0].entry[1]", "no resource"),
            ("input[0].entry[2].resource", "not a FHIR resource"),
            ("input[0].entry[3].resource", "not a FHIR resource"),
            ("input[0].entry[4].resource", "not a FHIR resource"),
            ("input[0].entry[5]", "not an object"),
        ),
    ),
    "bundle-entry-is-object.json": Expect(0, (("input[0].entry", "not a list"),)),
    "bundle-of-bundles.json": Expect(0),
    "searchset-operationoutcome.json": Expect(
        0,
        (
            ("urn:uuid:0b7c2b1e-6a0e-4b87-8a0a-4a3f7c3a9d55", "OperationOutcome is not used"),
            ("OperationOutcome/oo-2", "not used"),
        ),
    ),
    "transaction-response.json": Expect(0),
    "observation-missing-subject.json": Expect(0),
    "mixed-patients.json": Expect(2),
    "subject-not-a-patient.json": Expect(0),
    "vaf-absurd.json": Expect(
        0,
        (
            ("Observation/vaf-250.component:sample-allelic-frequency", "outside 0-100 %"),
            ("Observation/vaf-minus-1.component:sample-allelic-frequency", "outside 0-100 %"),
            ("Observation/vaf-abc.component:sample-allelic-frequency", "not a number"),
            ("Observation/vaf-boolean.component:sample-allelic-frequency", "not a number"),
            ("Observation/vaf-huge.component:sample-allelic-frequency", "outside 0-100 %"),
        ),
    ),
    "hgvs-garbage.json": Expect(
        0,
        (
            ("Observation/hgvs-glyc.component:protein-hgvs", "p.Glyc12Asp!!"),
            ("Observation/hgvs-double-gt.component:protein-hgvs", "G12D?"),
            ("Observation/hgvs-double-gt.component:coding-hgvs", "c.35G>>A"),
            ("Observation/hgvs-swapped.component:48004-6", "p. expression in the c. slot"),
            ("Observation/hgvs-swapped.component:48005-3", "c. expression in the p. slot"),
            ("Observation/hgvs-zero-position.component:protein-hgvs", "1 or greater"),
            ("Observation/hgvs-zero-position.component:coding-hgvs", "1 or greater"),
            ("Observation/hgvs-sql.component:protein-hgvs", "DROP TABLE"),
            ("Observation/hgvs-range-backwards.component:protein-hgvs", "lower to a higher"),
            ("Observation/hgvs-range-backwards.component:coding-hgvs", "lower to a higher"),
        ),
    ),
    "unknown-codes.json": Expect(
        0,
        (
            ("Observation/unknown-codes.code", "not a variant"),
            ("Observation/unknown-answer.valueCodeableConcept", "LA9633-4"),
            ("MolecularSequence/ms-1", "not used"),
            ("Basic/basic-1", "not used"),
        ),
    ),
    "wrong-types.json": Expect(
        0,
        (
            ("Observation/wrong-types-obs.code", "no code"),
            ("Observation/wrong-types-components.component:gene-studied", "names no gene"),
            ("Observation/wrong-types-inner.valueCodeableConcept", "not Present"),
            ("Observation/wrong-types-lists.component:gene-studied", "names no gene"),
            ("MedicationRequest/wrong-types-med.medication[x]", "names no drug"),
            ("MedicationRequest/wrong-types-med2.medication[x]", "names no drug"),
            ("MedicationStatement/wrong-types-stmt.medication[x]", "names no drug"),
            ("Condition/wrong-types-cond.code", "no code"),
            ("Observation/wrong-types-msi.valueCodeableConcept", "MSI"),
            ("Observation/wrong-types-tmb.valueQuantity", "TMB"),
        ),
    ),
    "wrong-types-ids.json": Expect(
        0,
        (
            ("input[0].entry[3].resource", "has no id"),
            ("input[0].entry[4].resource", "has no id"),
            ("input[0].entry[5].resource", "has no id"),
            ("input[0].entry[6].resource", "has no id"),
        ),
    ),
    "duplicate-ids.json": Expect(
        0,
        (
            ("Observation/kr12-kras-g12d", "appears twice with different content"),
            ("MedicationRequest/kr12-cetuximab-order", "appears twice with different content"),
        ),
    ),
    "duplicate-fullurl.json": Expect(0),
    "missing-references.json": Expect(
        0,
        (
            ("MedicationRequest/kr12-cetuximab-order.medicationReference", "Medication/not-sent"),
            ("MedicationRequest/contained-missing.medicationReference", "#med-1"),
        ),
    ),
    "reference-cycles.json": Expect(0),
    "odd-dates-and-status.json": Expect(0, (("Observation/kr12-kras-g12d", "entered-in-error"),)),
    "unicode-oddities.json": Expect(0),
    "lone-surrogate-id.json": Expect(0),  # the unpaired surrogate becomes U+FFFD
    "lone-surrogate-gene-display.json": Expect(0),
    "one-bad-line.ndjson": Expect(
        2,
        (
            ("one-bad-line.ndjson:5", "not valid JSON"),
            ("one-bad-line.ndjson:8", "not a JSON object"),
        ),
    ),
}


def _cases() -> Iterator[Any]:
    for name in sorted(EXPECTED):
        for command in COMMANDS:
            yield pytest.param(name, command, id=f"{name}-{command}")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ARGV = {
    "inspect": ["inspect", "{path}", "--json"],
    "evaluate": ["evaluate", "{path}", "--at", AT],
    "summary": ["evaluate", "{path}", "--summary", "--at", AT],
}


def cli(command: str, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run([arg.format(path=path) for arg in ARGV[command]], capsys)


def check_answer(command: str, path: Path, code: int, out: str, err: str) -> None:
    """What every answer to bad input must look like, whatever the input."""
    assert code in (0, 2), f"exit {code} (internal error): {err.strip()}"
    assert "Traceback" not in out + err
    for line in err.splitlines():  # problems with the input are reported naming the file
        if line.startswith("fhir-resist:") and code == 0:
            assert path.name in line, line
    if code != 0 and not out.strip():  # refused whole: nothing to check
        return
    if command == "summary":
        assert out.startswith("fhir_resist ")
        return
    data = json.loads(out)
    if command == "evaluate":
        assert data["resourceType"] == "Bundle" and data["type"] == "transaction"
        return
    for message in data["messages"]:
        where = message["where"]
        assert WHERE.match(where) or path.name in where, f"message does not name what it is about: {message}"
        assert not message["text"].startswith(INTERNAL_ERROR), f"a reader bug, not bad input: {message}"


def test_every_bad_file_is_declared() -> None:
    files = {p.name for p in BAD.iterdir() if p.suffix in {".json", ".ndjson"}}
    assert files == set(EXPECTED)


@pytest.mark.parametrize(("name", "command"), list(_cases()))
def test_bad_file(name: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / name
    expect = EXPECTED[name]
    code, out, err = cli(command, path, capsys)
    check_answer(command, path, code, out, err)
    assert code == expect.exit, err
    if code == 2:
        first = next(line for line in err.splitlines() if line.startswith("fhir-resist:"))
        assert path.name in first
    if command == "inspect" and out.strip():
        messages = json.loads(out)["messages"]
        for where, text in expect.messages:
            assert any(where in m["where"] and text in m["text"] for m in messages), (where, text, messages)


@pytest.mark.parametrize("command", COMMANDS)
def test_several_patients_refusal_names_the_file(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / "mixed-patients.json"
    code, _, err = cli(command, path, capsys)
    assert code == 2
    assert path.name in err.splitlines()[0]


def test_ndjson_with_one_bad_line_still_evaluates_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli("inspect", BAD / "one-bad-line.ndjson", capsys)
    assert code == 2  # two lines were not read; the others are shown
    data = json.loads(out)
    assert {a["source"] for a in data["alterations"]} == {
        "Observation/kr12-kras-g12d",
        "Observation/kr12-braf-v600e-neg",
        "Observation/kr12-msi",
    }
    assert data["therapies"][0]["source"] == "MedicationRequest/kr12-cetuximab-order"


# --------------------------------------------------------------------------- generated inputs

EXAMPLE = load_json(EXAMPLES / "crc-kras-g12d-cetuximab.json")


def _resource(rid: str) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(
        next(e["resource"] for e in EXAMPLE["entry"] if e["resource"]["id"] == rid)
    )
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_contained_resources_200_deep(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    node: dict[str, Any] = {"resourceType": "Medication", "id": "m199", "code": {"text": "cetuximab"}}
    for level in range(198, -1, -1):
        node = {
            "resourceType": "Medication",
            "id": f"m{level}",
            "code": {"text": "cetuximab"},
            "contained": [node],
        }
    order = _resource("kr12-cetuximab-order")
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "#m0"}
    order["contained"] = [node]
    bundle = copy.deepcopy(EXAMPLE)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != order["id"]] + [
        {"resource": order}
    ]
    path = tmp_path / "deep-contained.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    code, out, err = cli(command, path, capsys)
    check_answer(command, path, code, out, err)
    assert code == 0


@pytest.mark.parametrize("levels", [100, 400])
@pytest.mark.parametrize("command", COMMANDS)
def test_bundles_nested_in_bundles(
    levels: int, command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """100 levels are read; 400 levels (1,200 JSON levels) are refused as nested too deeply."""
    wrapper = '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
    path = tmp_path / f"nested-{levels}.json"
    path.write_text(wrapper * levels + json.dumps(EXAMPLE) + "}]}" * levels, encoding="utf-8")
    code, out, err = cli(command, path, capsys)
    check_answer(command, path, code, out, err)
    if levels == 100:
        assert code == 0
    else:
        assert code == 2 and "nested too deeply" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_json_nested_100000_deep(command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, out, err = cli(command, path, capsys)
    check_answer(command, path, code, out, err)
    assert code == 2 and "deep.json" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_enormous_bundle(command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """20,000 entries: a 1,000-variant panel report and 19,000-odd Observations it does not use."""
    bundle = generate.panel_report(1000, patient_id="pt-big")
    filler = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Heart rate"},
        "subject": {"reference": "Patient/pt-big"},
        "effectiveDateTime": "2026-08-01T10:00:00Z",
        "valueQuantity": {"value": 72, "unit": "beats/minute"},
    }
    while len(bundle["entry"]) < 20_000:
        bundle["entry"].append({"resource": {**filler, "id": f"hr-{len(bundle['entry'])}"}})
    path = tmp_path / "enormous.json"
    path.write_bytes(generate.dumps(bundle))
    code, out, err = cli(command, path, capsys)
    check_answer(command, path, code, out, err)
    assert code == 0
    if command == "inspect":
        assert len(json.loads(out)["alterations"]) == generate.expected_alterations(1000)


# --------------------------------------------------------------------------- FHIR-shaped noise

# tests/fhir/test_read_fuzz.py mutates single elements of one small scenario in memory. Here the
# noise works on whole resources of the benchmark's richer reports (copy number, fusion, MSI, TMB,
# serial plasma samples with a tumour fraction, medication history), and each result travels the
# whole way a file does: written as JSON, NDJSON or a search Bundle, read by the command line,
# evaluated and written as the transaction Bundle. Numbers include integers beyond the float range.

_PANEL = generate.panel_report(6, seed=7, patient_id="pt-noise")
_SERIAL = generate.serial_reports(3, seed=7, patient_id="pt-noise")
BASES = (
    [e["resource"] for e in _PANEL["entry"]],
    [e["resource"] for bundle in _SERIAL for e in bundle["entry"]],
)
IDS = sorted({f"{r['resourceType']}/{r['id']}" for base in BASES for r in base})

numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0, 1, 2, 5, 6, 100, -1, 0.05, 0.5, 1.5, 250, 2**31, -(2**31) - 1, 2**63, 10**400, 1e308, 5e-324]
    ),
)
_TERMS = (
    "VARIANT",
    "MSI",
    "MSI_IHC",
    "TMB",
    "GENE_STUDIED",
    "C_HGVS",
    "P_HGVS",
    "G_HGVS",
    "VAF",
    "SOURCE_CLASS",
    "DNA_CHANGE_TYPE",
    "COPY_NUMBER",
    "TRANSCRIPT_REF",
    "VARIATION_CODE",
    "MOLECULAR_CONSEQUENCE",
    "THERAPEUTIC_IMPLICATION",
    "MEDICATION_ASSESSED",
    "PRESENT",
    "ABSENT",
    "NO_CALL",
    "INDETERMINATE",
    "SOMATIC",
    "GERMLINE",
    "MSI_HIGH",
    "MSI_STABLE",
    "SO_COPY_NUMBER_GAIN",
    "SO_COPY_NUMBER_LOSS",
    "SO_GENE_FUSION",
    "SO_COPY_NUMBER_VARIATION",
)
_SYSTEMS = ["LOINC", "HGNC", "HGVS", "RXNORM", "SNOMED", "ICD10CM", "ATC"]
code_pool = st.sampled_from(
    [
        *(getattr(terminology, name) for name in _TERMS),
        *("HGNC:6407", "HGNC:3430", "318341", "263034", "408645001", "C18", "PLAS", "TUMOR", "LA6676-6"),
    ]
)
system_pool = st.sampled_from(
    [
        *(getattr(terminology, name) for name in _SYSTEMS),
        *("http://www.sequenceontology.org", "urn:oid:2.16.840.1.113883.6.1", "http://example.org/local", ""),
    ]
)
text_pool = st.one_of(
    st.text(max_size=16),
    st.sampled_from(
        [
            "p.Gly12Asp",
            "p.G12D",
            "c.35G>A",
            "NM_004985.5:c.35G>A",
            "p.(Val600Glu)",
            "p.?",
            "c.*32del",
            "p.Glu746_Ala750del",
            "EML4::ALK",
            "ctDNA tumor fraction",
            "2026-01-01",
            "2026",
            "final",
            "entered-in-error",
            "preliminary",
            "amended",
            "draft",
            "proposal",
            "active",
            "completed",
        ]
    ),
)
reference_pool = st.one_of(
    st.sampled_from(IDS),
    st.sampled_from(["Patient/someone-else", "Observation/missing", "#contained", "", "urn:uuid:1"]),
    st.builds(lambda ref: f"http://ehr.example.org/fhir/{ref}/_history/2", st.sampled_from(IDS)),
)
coding = st.fixed_dictionaries({}, optional={"system": system_pool, "code": code_pool, "display": text_pool})
concept = st.fixed_dictionaries({}, optional={"coding": st.lists(coding, max_size=3), "text": text_pool})
quantity = st.fixed_dictionaries(
    {}, optional={"value": numbers, "unit": st.sampled_from(["%", "1", "", "mut/Mb"]), "code": st.just("%")}
)
component = st.fixed_dictionaries(
    {"code": concept},
    optional={
        "valueCodeableConcept": concept,
        "valueQuantity": quantity,
        "valueString": text_pool,
        "valueInteger": st.integers(min_value=-(10**300), max_value=10**300),
        "valueRange": st.fixed_dictionaries({"low": quantity}),
    },
)
fhir_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), numbers, text_pool, concept, quantity,
        st.builds(lambda ref: {"reference": ref}, reference_pool),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text_pool, inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip
element = st.sampled_from(
    [
        "status", "code", "subject", "specimen", "valueCodeableConcept", "valueQuantity", "component",
        "effectiveDateTime", "effectivePeriod", "issued", "derivedFrom", "hasMember", "result",
        "medicationCodeableConcept", "medicationReference", "authoredOn", "intent", "type",
        "collection", "identifier", "meta", "modifierExtension", "verificationStatus", "patient",
        "contained", "id", "resourceType",
    ]
)  # fmt: skip


@st.composite
def noisy_resources(draw: st.DrawFn) -> list[Any]:
    resources: list[Any] = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        index = draw(st.integers(min_value=0, max_value=len(resources) - 1))
        target = resources[index]
        action = draw(st.sampled_from(["set", "component", "reference", "drop", "duplicate", "retype"]))
        if not isinstance(target, dict):
            continue
        if action == "set":
            target[draw(element)] = draw(fhir_value)
        elif action == "component":
            comps = target.setdefault("component", [])
            if isinstance(comps, list):
                comps.insert(draw(st.integers(min_value=0, max_value=len(comps))), draw(component))
        elif action == "reference":
            key = draw(st.sampled_from(["subject", "specimen", "patient", "medicationReference"]))
            target[key] = {"reference": draw(reference_pool)}
        elif action == "drop":
            resources.pop(index)
            if not resources:
                resources.append({})
        elif action == "duplicate":
            twin = copy.deepcopy(target)
            twin[draw(element)] = draw(fhir_value)
            resources.append(twin)
        else:
            target["resourceType"] = draw(
                st.sampled_from(
                    ["Observation", "Bundle", "MedicationStatement", "Condition", "Specimen", "X"]
                )
            )
    return resources


def _write(resources: list[Any], layout: str, directory: Path) -> Path:
    if layout == "ndjson":
        path = directory / "noise.ndjson"
        path.write_text("\n".join(json.dumps(r) for r in resources) + "\n", encoding="utf-8")
        return path
    if layout == "list":
        data: Any = resources
    else:
        data = {
            "resourceType": "Bundle",
            "type": layout,
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
        }
        if layout == "searchset":
            data["entry"].append(
                {
                    "resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning"}]},
                    "search": {"mode": "outcome"},
                }
            )
    path = directory / "noise.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(resources=noisy_resources(), layout=st.sampled_from(["collection", "searchset", "list", "ndjson"]))
def test_noise_never_crashes_the_command_line(
    resources: list[Any], layout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="fhir-resist-noise-") as tmp:
        path = _write(resources, layout, Path(tmp))
        for command in (*COMMANDS, "summary"):
            code, out, err = cli(command, path, capsys)
            check_answer(command, path, code, out, err)
            if code == 2:
                assert path.name in err or "patients" in err, err
