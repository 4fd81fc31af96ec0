"""Make the bundled synthetic population and the results of a run made before a rule was added.

    python examples/population/make.py

1. ``export/``: a Bulk Data export of ``PATIENTS`` generated colorectal cancer patients
   (``bench/generate.py``: panels with the common drivers, some with amplifications, and serial
   plasma samples), gzipped NDJSON per resource type with its manifest;
2. ``previous/``: the results ``fhir-resist evaluate --all-patients --out-dir`` wrote for them
   on ``PREVIOUS_AT`` with the bundled catalogue *without* ``RULE`` (MET amplification as a cause
   of anti-EGFR resistance), one ``<id>.json`` Bundle per patient.

Re-evaluating the export with the bundled catalogue against ``previous/`` then shows the alerts
the rule adds, and only those (README, "Many patients"). Run from the repository root; the
output is the same on every run (seeded generator, fixed evaluation time).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402

PATIENTS = 80
VARIANTS = 8  # small-variant Observations per report (the examples report 6 to 10)
RULE = "crc-antiegfr-met-amplification"
PREVIOUS_AT = "2026-11-30T09:00:00Z"


def main() -> None:
    export, previous = HERE / "export", HERE / "previous"
    for directory in (export, previous):
        shutil.rmtree(directory, ignore_errors=True)
    generate.write_export(generate.population(PATIENTS, n_variants=VARIANTS), str(export))
    for path in sorted(export.glob("*.ndjson")):
        compressed = path.with_name(path.name + ".gz")
        compressed.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        path.unlink()
    manifest = export / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('.ndjson"', '.ndjson.gz"'), encoding="utf-8")
    with tempfile.TemporaryDirectory() as work:
        before = Path(work) / "catalogue"
        shutil.copytree(ROOT / "catalogue", before)
        (before / "rules" / "crc-antiegfr" / f"{RULE}.yaml").unlink()
        plain = Path(work) / "export"
        plain.mkdir()
        for path in export.glob("*.ndjson.gz"):
            (plain / path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
        command = [sys.executable, "-m", "fhir_resist.cli", "--catalogue", str(before), "evaluate", str(plain)]
        command += ["--all-patients", "--out-dir", str(previous), "--at", PREVIOUS_AT]
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    print(f"{PATIENTS} patients in {export}, their results without {RULE} in {previous}")


if __name__ == "__main__":
    main()
