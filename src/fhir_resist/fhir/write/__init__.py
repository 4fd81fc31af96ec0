"""Build the output transaction Bundle (ARCHITECTURE.md section 4) from an Assessment.

Pure: no I/O (``$FHIR_RESIST_VALIDATE_OUTPUT`` aside). The JSON is the one fhir.resources validates
and writes (the tests validate every Bundle they make); it is validated at run time when asked.
Identifiers are deterministic, so the transaction is idempotent on the server, by one of two
strategies (README, "Writing back"):

- ``put`` (default): every resource gets a client-assigned id derived from its identifier and
  is written with ``PUT Type/id``. A re-run, or two evaluations of the same report racing
  each other, address the same ids: no duplicates, whatever the server's concurrency.
- ``conditional``: ``POST`` with ``If-None-Exist`` on our identifier, for servers that refuse
  client-assigned ids. HAPI's conditional create can race (two concurrent creates both
  succeed), so delivery serialises writes per patient (``fhir.deliver``).

Either way references between the new resources use ``urn:uuid`` fullUrls (UUIDv5 of the
identifiers), which the server rewrites to the ids it keeps.

    bundle          the transaction Bundle, its entries, the deterministic identifiers
    detected_issue  one DetectedIssue per resistance alert
    request_group   the RequestGroup of countermeasures on offer
    guidance        the GuidanceResponse: implications, withheld options, messages, data needs
    provenance      the Device, the Provenance and the inputs it names as sources
    stale_issues    withdrawing our earlier DetectedIssues that a new evaluation no longer raises
    elements        the codings, references and instants the resources share
    wording         the words a countermeasure is written in
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from fhir_resist.fhir.write.strategies import WRITE_STRATEGIES, WriteStrategy

if TYPE_CHECKING:
    from fhir_resist.fhir.write.bundle import to_bundle
    from fhir_resist.fhir.write.elements import drug_concept, rule_url
    from fhir_resist.fhir.write.stale_issues import withdrawals
    from fhir_resist.fhir.write.wording import offer_text, withheld_text

# Imported on first use, so that what only needs the write strategies (the settings, the command
# line) does not import the catalogue's and the engine's models.
_LAZY = {
    "to_bundle": "bundle",
    "drug_concept": "elements",
    "rule_url": "elements",
    "withdrawals": "stale_issues",
    "offer_text": "wording",
    "withheld_text": "wording",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "WRITE_STRATEGIES",
    "WriteStrategy",
    "drug_concept",
    "offer_text",
    "rule_url",
    "to_bundle",
    "withdrawals",
    "withheld_text",
]
