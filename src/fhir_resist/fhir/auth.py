"""SMART Backend Services: an access token for fhir_resist itself, no user present.

The client authenticates with a JWT it signs with its private key (``client_credentials`` grant,
``private_key_jwt`` client assertion, RS384 or ES384, as SMART App Launch 2 "Backend Services"
requires): ``iss`` = ``sub`` = client id, ``aud`` = the token endpoint, ``exp`` at most five
minutes ahead, a fresh ``jti`` each time. Tokens are cached until shortly before they expire.
The token endpoint comes from configuration or from ``<base>/.well-known/smart-configuration``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fhir_resist.errors import ServerError

if TYPE_CHECKING:  # jwt (with cryptography) and requests are imported when a token is first needed
    import requests

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
DEFAULT_SCOPE = (
    "system/Patient.rs system/Condition.rs system/Observation.rs system/DiagnosticReport.rs "
    "system/Specimen.rs system/Medication.rs system/MedicationRequest.rs system/MedicationStatement.rs "
    "system/MedicationAdministration.rs system/DetectedIssue.cru system/GuidanceResponse.cu "
    "system/RequestGroup.cu system/Provenance.cu system/Device.cu"
)


@dataclass(frozen=True, slots=True)
class BackendServicesConfig:
    client_id: str
    private_key_pem: str
    scope: str = DEFAULT_SCOPE
    algorithm: str = "RS384"
    key_id: str | None = None
    token_url: str | None = None  # discovered from the server when not given


class BackendServicesAuth:
    """A ``TokenSource`` for ``FhirClient``."""

    def __init__(
        self,
        config: BackendServicesConfig,
        fhir_base: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        if config.algorithm not in ALGORITHMS:
            raise ServerError(
                f"SMART backend services: algorithm {config.algorithm} is not one of {', '.join(ALGORITHMS)}",
                retryable=False,
            )
        self.config = config
        self.fhir_base = fhir_base.rstrip("/")
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or self._clock() >= self._expires - 60:
                self._token, lifetime = self._fetch()
                self._expires = self._clock() + lifetime
            return self._token

    def assertion(self, token_url: str) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": token_url,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        headers = {"typ": "JWT", **({"kid": self.config.key_id} if self.config.key_id else {})}
        import jwt

        try:
            return jwt.encode(
                claims, self.config.private_key_pem, algorithm=self.config.algorithm, headers=headers
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ServerError(
                f"SMART backend services: the private key cannot sign {self.config.algorithm} ({exc})",
                retryable=False,
            ) from exc

    def token_url(self) -> str:
        if self.config.token_url:
            return self.config.token_url
        url = f"{self.fhir_base}/.well-known/smart-configuration"
        import requests

        try:
            response = self.session.get(url, headers={"Accept": "application/json"}, timeout=self._timeout)
            endpoint = response.json().get("token_endpoint") if response.ok else None
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise ServerError(
                f"SMART configuration could not be read from {url} ({type(exc).__name__})"
            ) from exc
        if not isinstance(endpoint, str):
            raise ServerError(f"{url} names no token_endpoint", status=response.status_code, retryable=False)
        return endpoint

    def _fetch(self) -> tuple[str, float]:
        url = self.token_url()
        form = {
            "grant_type": "client_credentials",
            "scope": self.config.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(url),
        }
        import requests

        try:
            response = self.session.post(
                url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise ServerError(f"SMART token endpoint could not be reached ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not response.ok or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
            raise ServerError(
                f"SMART token endpoint answered {response.status_code}" + (f": {detail}" if detail else ""),
                status=response.status_code,
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        lifetime = body.get("expires_in")
        return body["access_token"], float(lifetime) if isinstance(lifetime, int | float) else 300.0
