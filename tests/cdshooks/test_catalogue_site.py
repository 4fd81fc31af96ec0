"""The catalogue site served at /catalogue/, and the cards' links to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.catalogue.site import INDEX, pages
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Trust, TrustedClient
from fhir_resist.cdshooks.cards import cards_for
from tests.cdshooks.test_app import KRAS, PV, hook_request
from tests.conftest import load_json

RULE = "crc-antiegfr-kras-ext-ras"
PUBLIC = "https://cds.example.org/fhir-resist"


@pytest.fixture
def client(tmp_path: Path, catalogue: Catalogue) -> Iterator[TestClient]:
    """A service with JWT authentication on: the catalogue is public all the same."""
    settings = ServiceSettings(
        auth="jwt",
        trust=Trust.of(
            TrustedClient("https://ehr.example.org", jku=frozenset({"https://ehr.example.org/jwks"}))
        ),
        public_url=PUBLIC,
        feedback_path=tmp_path / "feedback.jsonl",
    )
    with TestClient(create_app(settings, catalogue=catalogue)) as test_client:
        yield test_client


def test_the_index_and_a_rule_page_are_served_as_html_without_a_token(
    client: TestClient, catalogue: Catalogue
) -> None:
    site = pages(catalogue)
    index = client.get("/catalogue/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.content == site[INDEX]
    rule = client.get(f"/catalogue/rules/{RULE}.html")
    assert rule.status_code == 200 and rule.content == site[f"rules/{RULE}.html"]
    assert "default-src 'none'" in rule.headers["content-security-policy"]
    assert rule.headers["x-content-type-options"] == "nosniff"
    assert client.get("/catalogue/index.html").content == site[INDEX]


def test_without_the_slash_it_redirects_to_the_index(client: TestClient) -> None:
    answer = client.get("/catalogue", follow_redirects=False)
    assert answer.status_code == 308 and answer.headers["location"] == "catalogue/"


@pytest.mark.parametrize(
    "path", ["rules/no-such-rule.html", "rules/", "rules/%2e%2e/index.html", "style.css"]
)
def test_a_page_the_site_does_not_have_is_404(client: TestClient, path: str) -> None:
    answer = client.get(f"/catalogue/{path}")
    assert answer.status_code == 404
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_cards_link_the_rule_page_under_the_public_url(client: TestClient) -> None:
    """With auth on, a hook call needs a token: the cards are checked through the pure function
    in test_source_url_*; here the page they point to is the one served."""
    url = f"{PUBLIC}/catalogue/rules/{RULE}.html"
    assert client.get(url.removeprefix(PUBLIC)).status_code == 200


def test_source_url_is_the_served_rule_page_only_with_a_public_url(catalogue: Catalogue) -> None:
    from fhir_resist import evaluate

    assessment = evaluate([load_json(KRAS)], catalogue=catalogue)
    card, info = cards_for(assessment, hook="patient-view", hook_instance="h", public_url=PUBLIC)
    assert card["source"]["url"] == f"{PUBLIC}/catalogue/rules/{RULE}.html"
    assert "url" not in info["source"]  # the implications card speaks of several rules
    for bare in cards_for(assessment, hook="patient-view", hook_instance="h"):
        assert "url" not in bare["source"]
        assert "fhir_resist" in bare["source"]["label"]


def test_a_hook_call_links_the_page_under_the_configured_public_url(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", public_url=PUBLIC)
    with TestClient(create_app(settings, catalogue=catalogue)) as test_client:
        answer = test_client.post(f"/cds-services/{PV}", json=hook_request("patient-view", load_json(KRAS)))
        again = test_client.post(f"/cds-services/{PV}", json=hook_request("patient-view", load_json(KRAS)))
    assert answer.status_code == 200
    for reply in (answer, again):  # again: answered from the assessment cache
        first = reply.json()["cards"][0]
        assert first["source"]["url"] == f"{PUBLIC}/catalogue/rules/{RULE}.html"


def test_an_uncertain_card_links_no_host_we_do_not_serve(catalogue: Catalogue) -> None:
    from tests.engine.test_uncatalogued import K57N_ABSENT_BEFORE, K57N_LATER, ON_BRAF_MEK, V600E
    from tests.engine.test_uncatalogued import _assess as assess_uncertain

    result = assess_uncertain(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER)
    uncertain = [
        c
        for c in cards_for(result, hook="patient-view", hook_instance="h", public_url=PUBLIC)
        if "Uncertain" in c["summary"]
    ]
    assert uncertain
    assert all("url" not in c["source"] for c in uncertain)  # before: the gene set's canonical
