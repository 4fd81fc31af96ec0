"""One file streamed to disk: resumed on 206, started again on 200 or 416, a broken connection
retried from where it broke, 5xx retried, other refusals reported, the token only when asked."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import requests

from fhir_resist.bulk.download import CHUNK, download
from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient
from tests.bulk.conftest import Clock
from tests.bulk.hapi_export import HapiBulk
from tests.hapi import BASE


def _file(hapi: HapiBulk, resources: int = 3, padding: int = 0) -> tuple[str, bytes]:
    binary = hapi._store_file(
        [
            {"resourceType": "Observation", "id": f"o{n}", "note": [{"text": "x" * padding}]}
            for n in range(resources)
        ]
    )
    return f"{BASE}/Binary/{binary}", hapi.binaries[binary]


def _get(hapi: HapiBulk, client: FhirClient, clock: Clock, url: str, target: Path, *, token: bool = True):  # type: ignore[no-untyped-def]
    return download(client, url, target, with_token=token, sleep=clock.sleep, name=target.name)


def test_a_file_is_streamed_to_disk_with_the_token_and_private(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    url, data = _file(hapi)
    got = _get(hapi, client, clock, url, tmp_path / "Observation-1.ndjson")
    assert got.path.read_bytes() == data
    assert (got.size, got.resources, got.resumed) == (len(data), 3, False)
    assert stat.S_IMODE(got.path.stat().st_mode) == 0o600
    assert not (tmp_path / "Observation-1.ndjson.part").exists()
    headers = hapi.seen[-1][2]
    assert headers["Accept"] == "application/fhir+ndjson"
    assert headers["Authorization"] == "Bearer bulk-export-token"
    assert "Range" not in headers


def test_without_the_token_when_not_asked(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    url, _ = _file(hapi)
    _get(hapi, client, clock, url, tmp_path / "f.ndjson", token=False)
    assert "Authorization" not in hapi.seen[-1][2]


def test_a_partial_file_is_resumed_when_the_server_answers_206(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    hapi.honours_range = True
    url, data = _file(hapi)
    (tmp_path / "f.ndjson.part").write_bytes(data[:50])
    got = _get(hapi, client, clock, url, tmp_path / "f.ndjson")
    assert hapi.seen[-1][2]["Range"] == "bytes=50-"
    assert got.path.read_bytes() == data
    assert got.resumed


def test_a_partial_file_is_started_again_when_the_server_answers_200(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    url, data = _file(hapi)  # HAPI serves Binary content whole, whatever the Range
    (tmp_path / "f.ndjson.part").write_bytes(data[:50])
    got = _get(hapi, client, clock, url, tmp_path / "f.ndjson")
    assert hapi.seen[-1][2]["Range"] == "bytes=50-"
    assert got.path.read_bytes() == data
    assert not got.resumed


def test_a_partial_file_the_server_cannot_continue_is_started_again(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    hapi.honours_range = True
    url, data = _file(hapi)
    (tmp_path / "f.ndjson.part").write_bytes(data + b"stale tail of another file")
    got = _get(hapi, client, clock, url, tmp_path / "f.ndjson")
    assert [h.get("Range") for _, _, h in hapi.seen] == [f"bytes={len(data) + 26}-", None]
    assert got.path.read_bytes() == data


def test_a_connection_broken_mid_file_is_resumed_from_what_was_written(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    hapi.honours_range = True
    url, data = _file(hapi, resources=40, padding=5000)
    assert len(data) > 2 * CHUNK
    hapi.cuts = [CHUNK + 100]
    got = _get(hapi, client, clock, url, tmp_path / "f.ndjson")
    assert [h.get("Range") for _, _, h in hapi.seen] == [None, f"bytes={CHUNK}-"]
    assert got.path.read_bytes() == data
    assert got.resumed and got.resources == 40
    assert len(clock.sleeps) == 1


def test_a_5xx_is_retried_and_a_persistent_one_reported(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    url, data = _file(hapi)
    hapi.fail(status=503, headers={"Retry-After": "3"})
    assert _get(hapi, client, clock, url, tmp_path / "a.ndjson").path.read_bytes() == data
    assert clock.sleeps == [3.0]
    hapi.fail(times=client.retry.attempts, status=500, body="oops", content_type="text/plain")
    with pytest.raises(ServerError, match=r"download of b\.ndjson: the server answered 500") as caught:
        _get(hapi, client, clock, url, tmp_path / "b.ndjson")
    assert caught.value.attempts == client.retry.attempts


def test_a_file_server_that_cannot_be_reached_is_tried_again(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    url, data = _file(hapi)
    hapi.fail(exception=requests.ConnectionError("Connection refused"))
    assert _get(hapi, client, clock, url, tmp_path / "f.ndjson").path.read_bytes() == data
    assert len(clock.sleeps) == 1


def test_an_unknown_file_is_reported_at_once(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    with pytest.raises(
        ServerError, match=r"download of f\.ndjson: .*404.*HAPI-2001: Resource Binary/999 is not known"
    ):
        _get(hapi, client, clock, f"{BASE}/Binary/999", tmp_path / "f.ndjson")
    assert clock.sleeps == []
    assert len(hapi.seen) == 1


@pytest.mark.parametrize(
    ("status", "content_type", "headers", "message"),
    [
        (200, "application/fhir+json;charset=UTF-8", {}, "sent a FHIR resource"),
        (
            302,
            "text/html",
            {"Location": "https://elsewhere.test/f"},
            "a redirect; redirects are not followed",
        ),
    ],
)
def test_a_binary_resource_or_a_redirect_is_refused(
    hapi: HapiBulk,
    client: FhirClient,
    clock: Clock,
    tmp_path: Path,
    status: int,
    content_type: str,
    headers: dict[str, str],
    message: str,
) -> None:
    url, _ = _file(hapi)
    body = json.dumps(
        {"resourceType": "Binary", "id": "1", "contentType": "application/fhir+ndjson", "data": ""}
    )
    hapi.fail(status=status, body=body, content_type=content_type, headers=headers)
    with pytest.raises(ServerError, match=message):
        _get(hapi, client, clock, url, tmp_path / "f.ndjson")
    assert not (tmp_path / "f.ndjson").exists()


class _Tokens:
    def __init__(self) -> None:
        self.refreshed = 0

    def token(self, *, refresh: bool = False) -> str:
        self.refreshed += refresh
        return f"token-{self.refreshed}"


def test_a_401_refreshes_the_token_once(hapi: HapiBulk, clock: Clock, tmp_path: Path) -> None:
    tokens = _Tokens()
    client = FhirClient(BASE, auth=tokens, sleep=clock.sleep)
    url, data = _file(hapi)
    hapi.fail(status=401, body="", content_type="text/plain")
    assert _get(hapi, client, clock, url, tmp_path / "f.ndjson").path.read_bytes() == data
    assert tokens.refreshed == 1
    assert hapi.seen[-1][2]["Authorization"] == "Bearer token-1"
