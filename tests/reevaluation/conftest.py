"""What the population tests share: the example patients as an export split across NDJSON files."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, load_json

JSON = dict[str, Any]
EXAMPLE_FILES = (
    "crc-kras-g12d-cetuximab.json",
    "crc-braf-v600e-panitumumab.json",
    "crc-ras-exon2-only-panitumumab.json",
    "crc-ras-wt-panitumumab.json",
)
PATIENTS = ("Patient/kr12-pt", "Patient/bv600-pt", "Patient/rasx2-pt", "Patient/raswt-pt")


def example_resources() -> list[JSON]:
    """Every resource of the four examples (their Bundles unpacked)."""
    return [entry["resource"] for name in EXAMPLE_FILES for entry in load_json(EXAMPLES / name)["entry"]]


def write_lines(path: Path, resources: list[JSON]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def shuffled_export(directory: Path, resources: list[JSON], *, files: int = 3, seed: int = 1) -> Path:
    """The resources in random order over ``files`` NDJSON files (a patient's split across them)."""
    directory.mkdir(parents=True, exist_ok=True)
    order = list(resources)
    random.Random(seed).shuffle(order)
    for index in range(files):
        write_lines(directory / f"part.{index + 1}.ndjson", order[index::files])
    (directory / "manifest.json").write_text('{"output": []}', encoding="utf-8")
    return directory
