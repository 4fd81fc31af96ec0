"""``python -m fhir_resist.cli``: the command line."""

import sys

from fhir_resist.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
