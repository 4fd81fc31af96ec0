"""The genes the catalogue's knowledge names anywhere: a rule's alterations and their conditions
(co-occurring, excluding, tested wild type, reverted, sparing partners), the tests a requirement asks
for, and the genes tied to resistance. A simple variant in any other gene cannot change what a hook
card says: the hook path reads no further than its gene (``fhir.read`` with ``wanted``)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

_GENE_FIELDS = frozenset({"gene", "partner"})
_NOT_KNOWLEDGE = frozenset({"cases"})  # a rule's test cases describe patients: their genes are no rule's


def named_genes(knowledge: Iterable[object]) -> frozenset[str]:
    """Every ``gene`` and ``partner`` symbol held anywhere in these models, however deep: a field
    added to the schema later is found too, never silently left out."""
    found: set[str] = set()
    pending: list[object] = list(knowledge)
    while pending:
        item = pending.pop()
        if isinstance(item, BaseModel):
            for name in type(item).model_fields.keys() - _NOT_KNOWLEDGE:
                value = getattr(item, name)
                if name in _GENE_FIELDS and isinstance(value, str):
                    found.add(value)
                else:
                    pending.append(value)
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return frozenset(found)
