"""``python -m fhir_resist.cli``: the command line."""

from fhir_resist.cli import run

if __name__ == "__main__":  # pragma: no cover
    run()
