"""The installed distribution's version: ``pyproject.toml`` is the one place the number is written.

Modules import ``VERSION`` from here rather than ``__version__`` from the package root, so that
reading the version imports nothing else (the root imports the API, which imports the writer).
"""

from __future__ import annotations

from importlib.metadata import version

VERSION: str = version("fhir-resist")
