"""One exception hierarchy, sorted by what the caller should do about it.

- ``InputError``: the caller's input is wrong (a file, a resource, an element); fix the input.
- ``CatalogueError``: the knowledge base is wrong; fix ``catalogue/``.
- ``ServerError``: the FHIR server failed or refused; retry later (outbox) or fix the request.

Only the CLI maps these to exit codes and only the web app maps them to HTTP statuses.
"""

from __future__ import annotations

from typing import Any


class FhirResistError(Exception):
    """Root of every error fhir_resist raises on purpose."""


class InputError(FhirResistError):
    """Input that cannot be used; the message names the file/resource and element."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class HgvsError(InputError):
    """An HGVS expression that cannot be parsed or is not supported."""


class CatalogueError(FhirResistError):
    """The catalogue is invalid; ``problems`` lists every ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = problems[0] if problems else "invalid catalogue"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(head + more)


class ServerError(FhirResistError):
    """The FHIR server could not be reached or answered with an error.

    ``retryable``: a later attempt may succeed (network, timeout, 429, 5xx); otherwise the
    server refused the request (4xx) and ``outcome`` holds its OperationOutcome, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        outcome: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.retryable = retryable
        self.outcome = outcome
        self.attempts = 1
        super().__init__(message)


class HttpError(FhirResistError):
    """A request the web service refuses or cannot answer: the HTTP status to answer with, the
    message for the OperationOutcome, the element at fault (``expression``) and any headers.

    It crosses from an evaluator process to the service process, hence ``__reduce__``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        expression: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.expression = expression
        self.headers = dict(headers or {})
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        state = {"expression": self.expression, "headers": self.headers}
        return (type(self), (self.status, self.message), state)


class Unauthorized(FhirResistError):
    """The caller of the web service is not trusted; the reason is for the service log only."""


class FeedbackError(InputError):
    """CDS Hooks feedback that is not as the specification says; the message names the element."""


class EvaluatorsBroken(FhirResistError):
    """No evaluator process could take or finish a hook call: the service process answers it.
    ``pool``: the pool that broke, to be restarted (None while a restart is under way)."""

    def __init__(self, message: str, pool: object | None = None) -> None:
        self.pool = pool
        super().__init__(message)


class Abandoned(FhirResistError):
    """Work stopped part-way because nobody waits for it any more: the caller has gone, its
    deadline has passed, or the service is stopping."""


class JsonProblem(InputError, ValueError):
    """Text that is not usable JSON.

    The parser does not know where the text came from, so the message names no place: the caller
    names the file, line or request body, followed by ``where``, which is ``:line:column`` when
    known and empty otherwise. Also a ``ValueError``, as ``json.loads`` raises.
    """

    where: str

    def __init__(self, text: str, where: str = "") -> None:
        super().__init__(text)
        self.where = where


class OutputValidationError(FhirResistError):
    """An output resource failed FHIR validation: a defect in fhir_resist, never the user's."""
