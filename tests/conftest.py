"""Shared fixtures: the bundled catalogue, test data and the examples."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, load_catalogue
from fhir_resist.catalogue.cache import ENV_CACHE_DIR
from fhir_resist.fhir.write.bundle import ENV_VALIDATE

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"
SCENARIOS = DATA / "scenarios"
IG = DATA / "genomics-reporting-ig"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The compiled catalogues of this run (and of the commands it starts) in a directory of its
    own: the bundled catalogue is read from YAML once, and the user's cache is left alone."""
    previous = os.environ.get(ENV_CACHE_DIR)
    os.environ[ENV_CACHE_DIR] = str(tmp_path_factory.mktemp("cache") / "fhir-resist")
    yield
    if previous is None:
        del os.environ[ENV_CACHE_DIR]
    else:
        os.environ[ENV_CACHE_DIR] = previous


@pytest.fixture(scope="session", autouse=True)
def _validated_output() -> Iterator[None]:
    """Every Bundle the tests make (and the commands they start) is validated with fhir.resources
    as it is made: what the product writes without validating it at run time is proven valid here."""
    previous = os.environ.get(ENV_VALIDATE)
    os.environ[ENV_VALIDATE] = "1"
    yield
    if previous is None:
        del os.environ[ENV_VALIDATE]
    else:
        os.environ[ENV_VALIDATE] = previous


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(ROOT / "catalogue")


# Profiles of the IGs the scenario inputs claim (mCODE, Genomics Reporting), which a test server
# need not hold: a server validating requests refuses a resource claiming a profile it does not know.
INPUT_IG_PROFILES = ("http://hl7.org/fhir/us/mcode/", "http://hl7.org/fhir/uv/genomics-reporting/")


def seed_transaction(bundle: dict[str, Any], base: str) -> dict[str, Any]:
    """A scenario Bundle as the transaction that puts each resource on a FHIR server at ``base``
    under its own id: each entry with its absolute fullUrl and without claims of the input IGs'
    profiles, so a server validating requests accepts the EHR's data the scenario stands for."""
    entries = []
    for entry in bundle["entry"]:
        resource = dict(entry["resource"])
        meta = dict(resource.get("meta") or {})
        kept = [p for p in meta.get("profile", []) if not p.startswith(INPUT_IG_PROFILES)]
        if "profile" in meta:
            meta["profile"] = kept
            resource["meta"] = {k: v for k, v in meta.items() if v}
            if not resource["meta"]:
                del resource["meta"]
        url = f"{resource['resourceType']}/{resource['id']}"
        entries.append(
            {
                "fullUrl": f"{base.rstrip('/')}/{url}",
                "resource": resource,
                "request": {"method": "PUT", "url": url},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def renamed(bundle: dict[str, Any], tag: str) -> dict[str, Any]:
    """A copy of a scenario Bundle whose ids (and references to them) end in ``-tag``: another patient."""
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if isinstance(out.get("reference"), str) and out["reference"] in ids:
                out["reference"] = f"{out['reference']}-{tag}"
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    entries = []
    for entry in bundle["entry"]:
        resource = walk(entry["resource"])
        resource["id"] = f"{resource['id']}-{tag}"
        entries.append({"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def two_cancer_types() -> dict[str, Any]:
    """The KRAS colorectal scenario with a second primary cancer Condition, a melanoma."""
    bundle: dict[str, Any] = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    melanoma = load_json(SCENARIOS / "melanoma-nras-acquired-vemurafenib.json")
    (entry,) = [e for e in melanoma["entry"] if e["resource"]["resourceType"] == "Condition"]
    (colorectal,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    entry["resource"]["id"] = "cond-melanoma"
    entry["fullUrl"] = entry["fullUrl"].rsplit("/", 1)[0] + "/cond-melanoma"
    entry["resource"]["subject"] = colorectal["resource"]["subject"]
    bundle["entry"].append(entry)
    return bundle


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems have (022), so that a private mode is the code's doing, not the umask's."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def file_mode(path: Path) -> int:
    """The permission bits of a file or directory."""
    return stat.S_IMODE(path.stat().st_mode)
