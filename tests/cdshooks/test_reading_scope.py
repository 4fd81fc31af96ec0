"""Hook cards read no further than its gene a simple variant in a gene the catalogue names nowhere
(``Catalogue.names_gene``): what the cards say, and the clinical content behind them, must be the
same as when every variant is read, for every input the tests know."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import generate
from bench.hooks import hook_bodies
from fhir_resist import Catalogue
from fhir_resist.cdshooks import hooks
from fhir_resist.cdshooks.cards import cards_for
from fhir_resist.cdshooks.hook_services import BY_ID, HookName
from fhir_resist.engine.assess import assess
from fhir_resist.fhir.read import read_context
from tests.conftest import EXAMPLES, IG, SCENARIOS, load_json

AT = datetime(2026, 12, 1, tzinfo=UTC)
INPUTS = sorted(
    [p for p in SCENARIOS.glob("*.json") if not p.name.endswith(".expect.json")]
    + list(EXAMPLES.glob("*.json"))
    + list(EXAMPLES.glob("regimens/*.json"))
)
# what an assessment says clinically (its messages and inputs are what differ: the variants not read)
CLINICAL = (
    "status",
    "tumour",
    "findings",
    "issues",
    "implications",
    "countermeasures",
    "withheld",
    "exceptions",
    "data_requirements",
    "uncertain",
    "regimens",
    "preliminary",
)


def _both(resources: list[Any], catalogue: Catalogue) -> tuple[Any, Any, int, int]:
    whole = read_context(resources, rules=catalogue.reading)
    scoped = read_context(resources, rules=catalogue.reading, wanted=catalogue.names_gene)
    return (
        assess(whole, catalogue, AT),
        assess(scoped, catalogue, AT),
        len(whole.alterations),
        len(scoped.alterations),
    )


def _same_cards(whole: Any, scoped: Any) -> None:
    orders = list(whole.therapies)
    hooks_called: list[tuple[HookName, list[str]]] = [
        ("patient-view", []),
        ("order-select", orders),
        ("order-sign", orders),
    ]
    for hook, ordering in hooks_called:
        assert cards_for(scoped, hook=hook, hook_instance="i", ordering=ordering) == cards_for(
            whole, hook=hook, hook_instance="i", ordering=ordering
        )
    for name in CLINICAL:
        assert getattr(scoped, name) == getattr(whole, name), name


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_the_cards_of_every_scenario_and_example_are_the_same(path: Path, catalogue: Catalogue) -> None:
    whole, scoped, _, _ = _both([load_json(path)], catalogue)
    _same_cards(whole, scoped)


def test_the_genomics_ig_examples_read_in_scope_say_the_same(catalogue: Catalogue) -> None:
    resources = [load_json(p) for p in sorted(IG.glob("*.json"))]
    whole, scoped, _, _ = _both(resources, catalogue)
    _same_cards(whole, scoped)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_panel_read_in_scope_leaves_most_variants_unread_and_says_the_same(
    seed: int, catalogue: Catalogue
) -> None:
    report = generate.panel_report(120, seed=seed)
    whole, scoped, read_whole, read_scoped = _both([report], catalogue)
    assert read_scoped < read_whole / 2  # the passengers in unnamed genes are not read
    assert any(a.gene == "KRAS" for f in scoped.findings for a in f.alterations)
    _same_cards(whole, scoped)


@pytest.mark.parametrize("service_id", ["fhir-resist-patient-view", "fhir-resist-order-select"])
def test_a_hook_call_without_a_page_answers_as_one_that_reads_everything(
    service_id: str, catalogue: Catalogue
) -> None:
    import orjson

    raw = hook_bodies(120, seed=2)[service_id.removeprefix("fhir-resist-")]
    service = BY_ID[service_id]
    body = orjson.loads(raw)
    scoped = hooks.call(service, body, catalogue, at=AT)
    whole = hooks.call(service, body, catalogue, at=AT, page=True)  # the page reads all
    assert scoped.cards and scoped.cards == whole.cards
    assert whole.page is not None and scoped.page is None
    assert body == orjson.loads(raw)  # read in place (prefetch.unpack copies nothing): left unchanged
