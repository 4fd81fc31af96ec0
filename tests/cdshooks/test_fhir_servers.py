"""fhirServer values: malformed ones named, and the allow-list matched by origin and path prefix."""

from __future__ import annotations

import pytest

from fhir_resist.cdshooks.fhir_servers import AllowedServer, allowed, problem
from fhir_resist.errors import InputError

BASE = AllowedServer.parse("https://ehr.example.org/fhir", where="test")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[",
        "http://exa mple",
        "http://a b/",
        "https://",
        "http://",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:0/",
        "http://host:port/",
        "https://%zz/",
        "https://ehr.example.org/fhir\n",
        "ftp://ehr.example.org/fhir",
        "https://user:secret@ehr.example.org/fhir",
        "https://ehr.example.org/fhir?x=1",
        "https://ehr.example.org/fhir#top",
        "https://ehr.example.org/fhir/../admin",
        "https://ehr.example.org/fhir/%2E%2E/admin",
        "https://ehr.exämple.org/fhir",
        "http://[not-an-address]/",
        "https://ehr.example.org/" + "a" * 3000,
    ],
)
def test_malformed_base_urls_are_named(url: str) -> None:
    assert problem(url)
    assert not allowed(url, None)  # not even without a list


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org/fhir",
        "http://[::1]:8080/fhir",
        "http://10.0.0.1/",
        "https://xn--exmple-cua.org/r4",
    ],
)
def test_well_formed_base_urls(url: str) -> None:
    assert problem(url) is None
    assert allowed(url, None)


@pytest.mark.parametrize(
    ("url", "allows"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://ehr.example.org/fhir/", True),
        ("https://EHR.example.org:443/fhir", True),
        ("https://ehr.example.org/fhir/tenant-1", True),
        ("https://ehr.example.org/fhirx", False),
        ("https://ehr.example.org/", False),
        ("https://ehr.example.org/admin/fhir", False),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://ehr.example.org.evil.example/fhir", False),
        ("https://169.254.169.254/fhir", False),
        ("https://ehr.example.org/fhir/../admin", False),
    ],
)
def test_an_allowed_base_matches_origin_and_path_prefix(url: str, allows: bool) -> None:
    assert BASE.allows(url) is allows
    assert allowed(url, [BASE]) is allows
    assert not allowed(url, [])  # an empty list allows nothing


def test_a_malformed_configured_base_names_the_setting() -> None:
    with pytest.raises(InputError, match=r"^FHIR_RESIST_CDS_FHIR_SERVERS: 'ehr\.example\.org/fhir'"):
        AllowedServer.parse("ehr.example.org/fhir", where="FHIR_RESIST_CDS_FHIR_SERVERS")
    assert (
        str(AllowedServer.parse("https://ehr.example.org/fhir/", where="x"))
        == "https://ehr.example.org:443/fhir"
    )
