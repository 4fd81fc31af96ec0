"""The patient page through the service: cards link it (absolute, SMART, or not at all without a
public URL), ``GET /pages/{id}`` serves it with its security headers until it expires, cached and
evaluator-process answers link one too, instances on one state directory share them, and the id
is in no log line."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.page_store import PageStore
from fhir_resist.cdshooks.pages import HEADERS, LABEL
from fhir_resist.errors import InputError
from tests.cdshooks import conformance
from tests.cdshooks.test_app import KRAS, OS, PV, draft, hook_request, order_request
from tests.conftest import ROOT, load_json

PUBLIC = "https://cds.example.org/resist"
LAUNCH = "https://apps.example.org/resistance/launch"
SECURITY = {k.lower(): v for k, v in HEADERS.items()}


def _settings(tmp_path: Path, **changes: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "auth": "off",
        "feedback_path": tmp_path / "feedback.jsonl",
        "public_url": PUBLIC,
        "state_dir": tmp_path / "state",
        "deadline": 60,
    }
    values.update(changes)
    return ServiceSettings(**values)


@pytest.fixture
def client(tmp_path: Path, catalogue: Catalogue) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), catalogue=catalogue)) as test_client:
        yield test_client


def _page_path(card: dict[str, Any]) -> str:
    (link,) = card["links"]
    assert link == {"label": LABEL, "url": link["url"], "type": "absolute"}
    assert link["url"].startswith(PUBLIC + "/pages/")
    return urlsplit(str(link["url"])).path.removeprefix("/resist")


def _patient_view(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post(
        f"/cds-services/{PV}", json={**hook_request("patient-view", load_json(KRAS)), **changes}
    )
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    assert conformance.response(doc) == []
    return doc


def test_every_card_links_the_served_page_of_its_evaluation(client: TestClient) -> None:
    cards = _patient_view(client)["cards"]
    assert len(cards) >= 2
    paths = {_page_path(card) for card in cards}
    assert len(paths) == 1  # one evaluation, one page
    page = client.get(paths.pop())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert {k: page.headers[k] for k in SECURITY} == SECURITY
    assert "cetuximab" in page.text and "KRAS p.G12D" in page.text  # the alert, from the stored model
    assert "<svg" in page.text  # the timeline, drawn when served


def test_an_order_card_links_a_page_too(client: TestClient) -> None:
    answer = client.post(
        f"/cds-services/{OS}", json=order_request("order-select", draft("318341", "cetuximab"))
    )
    (card,) = answer.json()["cards"]
    assert client.get(_page_path(card)).status_code == 200


def test_a_call_without_cards_stores_no_page(client: TestClient, tmp_path: Path) -> None:
    answer = client.post(
        f"/cds-services/{OS}", json=order_request("order-select", draft("253337", "bevacizumab"))
    )
    assert answer.json() == {"cards": []}
    assert not (tmp_path / "state" / "pages").exists()


def test_unknown_expired_and_malformed_ids_are_the_same_404(client: TestClient, tmp_path: Path) -> None:
    path = _page_path(_patient_view(client)["cards"][0])
    page_id = path.rsplit("/", 1)[1]
    store = client.app.state.service.pages  # type: ignore[attr-defined]
    then = time.time() - 25 * 3600  # older than the default day
    os.utime(store._path(page_id), (then, then))
    answers = [client.get(f"/pages/{i}") for i in (page_id, "A" * 43, "not-an-id", "%2e%2e")]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1 and "unknown or has expired" in answers[0].text
    for answer in answers:
        assert {k: answer.headers[k] for k in SECURITY} == SECURITY


def test_without_a_public_url_there_is_no_link_and_no_page(tmp_path: Path, catalogue: Catalogue) -> None:
    with TestClient(create_app(_settings(tmp_path, public_url=None), catalogue=catalogue)) as client:
        cards = _patient_view(client)["cards"]
        assert cards and all("links" not in card for card in cards)
        assert client.get("/pages/" + "A" * 43).status_code == 404
    assert not (tmp_path / "state" / "pages").exists()


def test_with_a_smart_launch_url_cards_link_the_app_with_the_page_in_its_context(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    settings = _settings(tmp_path, smart_launch_url=LAUNCH)
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        cards = _patient_view(client)["cards"]
        links = [card["links"] for card in cards]
        assert all(found == links[0] for found in links)
        (link,) = links[0]
        assert {k: link[k] for k in ("label", "url", "type")} == {
            "label": LABEL,
            "url": LAUNCH,
            "type": "smart",
        }
        context = json.loads(link["appContext"])
        assert context["pageUrl"] == f"{PUBLIC}/pages/{context['pageId']}"
        assert client.get(f"/pages/{context['pageId']}").status_code == 200


def test_a_cached_answer_still_links_a_page(client: TestClient) -> None:
    first = _patient_view(client)["cards"]
    again = _patient_view(client, hookInstance="another-instance")["cards"]
    assert client.app.state.service.cache.hits == 1  # type: ignore[attr-defined]
    first_page, again_page = client.get(_page_path(first[0])), client.get(_page_path(again[0]))
    assert first_page.status_code == again_page.status_code == 200
    assert again_page.text == first_page.text  # the same evaluation's page


def test_instances_on_one_state_directory_serve_each_others_pages(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    settings = _settings(tmp_path)
    with (
        TestClient(create_app(settings, catalogue=catalogue)) as one,
        TestClient(create_app(settings, catalogue=catalogue)) as other,
    ):
        path = _page_path(_patient_view(one)["cards"][0])
        assert other.get(path).status_code == 200


def test_a_page_that_cannot_be_stored_leaves_the_cards_without_links(
    tmp_path: Path, catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "pages").write_text("a file where the directory should be")
    with (
        TestClient(create_app(_settings(tmp_path), catalogue=catalogue)) as client,
        caplog.at_level(logging.ERROR),
    ):
        cards = _patient_view(client)["cards"]
    assert cards and all("links" not in card for card in cards)
    assert "a patient page could not be stored" in caplog.text


def test_evaluator_processes_give_the_page_too(tmp_path: Path, catalogue: Catalogue) -> None:
    settings = _settings(tmp_path, processes=1, catalogue_path=ROOT / "catalogue")
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        assert client.app.state.service.evaluators.wait(120)  # type: ignore[attr-defined]
        cards = _patient_view(client)["cards"]
        page = client.get(_page_path(cards[0]))
        cached = _patient_view(client, hookInstance="again")["cards"]  # the evaluator's cache
        assert client.get(_page_path(cached[0])).status_code == 200
    assert page.status_code == 200 and "KRAS p.G12D" in page.text


def test_the_page_id_is_in_no_log_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        path = _page_path(_patient_view(client)["cards"][0])
        assert client.get(path).status_code == 200
        assert client.get(path + "x").status_code == 404
    page_id = path.rsplit("/", 1)[1]
    served = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test client's own lines
    assert served and all(page_id not in r.getMessage() for r in served)


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"FHIR_RESIST_PAGE_TTL": "0"}, "FHIR_RESIST_PAGE_TTL"),
        ({"FHIR_RESIST_PAGE_TTL": "inf"}, "FHIR_RESIST_PAGE_TTL"),
        ({"FHIR_RESIST_PAGES_MAX": "0"}, "FHIR_RESIST_PAGES_MAX"),
        ({"FHIR_RESIST_SMART_LAUNCH_URL": "ftp://apps.example.org/launch"}, "FHIR_RESIST_SMART_LAUNCH_URL"),
        (
            {"FHIR_RESIST_SMART_LAUNCH_URL": "https://apps.example.org/launch#x"},
            "FHIR_RESIST_SMART_LAUNCH_URL",
        ),
        (
            {"FHIR_RESIST_SMART_LAUNCH_URL": LAUNCH, "FHIR_RESIST_PUBLIC_URL": ""},
            "FHIR_RESIST_SMART_LAUNCH_URL",
        ),
    ],
)
def test_page_settings_that_cannot_hold_are_refused_naming_the_setting(
    tmp_path: Path, env: dict[str, str], where: str
) -> None:
    base = {
        "FHIR_RESIST_CDS_AUTH": "off",
        "FHIR_RESIST_PUBLIC_URL": PUBLIC,
        "FHIR_RESIST_STATE_DIR": str(tmp_path),
    }
    with pytest.raises(InputError) as refused:
        create_app(ServiceSettings.from_env({**base, **env}))
    assert refused.value.where == where


def test_page_settings_from_the_environment() -> None:
    assert ServiceSettings.from_env({}).page_ttl == 24 * 3600
    assert ServiceSettings.from_env({}).pages_max == 10_000
    assert ServiceSettings.from_env({}).smart_launch_url is None
    env = {
        "FHIR_RESIST_PAGE_TTL": "3600",
        "FHIR_RESIST_PAGES_MAX": "50",
        "FHIR_RESIST_SMART_LAUNCH_URL": LAUNCH,
    }
    settings = ServiceSettings.from_env(env)
    assert (settings.page_ttl, settings.pages_max, settings.smart_launch_url) == (3600, 50, LAUNCH)
    assert (
        PageStore.for_settings(ServiceSettings.from_env({**env, "FHIR_RESIST_PUBLIC_URL": PUBLIC}))
        is not None
    )


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_uvicorns_access_log_names_no_page_id(tmp_path: Path, catalogue: Catalogue) -> None:
    """A real uvicorn server with its own logging configuration (applied after the app is made,
    as ``serve`` does): its access log shows the page's path without the id."""
    import requests
    import uvicorn

    from tests.cdshooks.test_server import Running

    app = create_app(_settings(tmp_path), catalogue=catalogue)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", access_log=True)
    lines = _Lines()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(lines)
    try:
        with Running(uvicorn.Server(config)) as port:
            base = f"http://127.0.0.1:{port}"
            body = hook_request("patient-view", load_json(KRAS))
            cards = requests.post(f"{base}/cds-services/{PV}", json=body, timeout=60).json()["cards"]
            path = _page_path(cards[0])
            assert requests.get(base + path, timeout=60).status_code == 200
            assert requests.get(f"{base}{path}?again=1", timeout=60).status_code == 200
    finally:
        access.removeHandler(lines)
    page_id = path.rsplit("/", 1)[1]
    served = [line for line in lines.lines if "/pages/" in line]
    assert len(served) == 2
    assert '"GET /pages/... HTTP/1.1" 200' in served[0]
    assert '"GET /pages/...?again=1 HTTP/1.1" 200' in served[1]
    assert all(page_id not in line for line in lines.lines)


def test_a_page_not_drawn_within_the_deadline_is_503(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from fhir_resist.cdshooks.routes import pages as page_route

    never: Future[str] = Future()
    monkeypatch.setattr(page_route, "render", lambda page: never)
    with TestClient(create_app(_settings(tmp_path, deadline=0.2), catalogue=catalogue)) as client:
        path = _page_path(_patient_view(client)["cards"][0])
        answer = client.get(path)
    assert answer.status_code == 503
    assert {k: answer.headers[k] for k in SECURITY} == SECURITY


def test_page_paths_are_hidden_in_a_record_s_message_and_arguments() -> None:
    from fhir_resist.cdshooks.pages import HidePageIds

    page_id = "A" * 43
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        f"GET /pages/{page_id} %s %d",
        (f"/pages/{page_id}?x", 200),
        None,
    )
    assert HidePageIds().filter(record)
    assert record.getMessage() == "GET /pages/... /pages/...?x 200"
