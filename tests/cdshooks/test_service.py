"""The running service's ways of doing work for a caller: ``Service.run_for`` stops the work the
caller no longer waits for (client gone, deadline passed)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.service import Service
from fhir_resist.cdshooks.settings import ServiceSettings
from fhir_resist.config import server_settings
from fhir_resist.errors import Abandoned

WAIT = 60.0  # seconds a test waits for what must happen (never a measured figure)


class _Request:
    """What ``run_for`` reads of a request: ``receive``, which says the client has gone once
    ``gone`` is set (as Starlette's does after the body was read)."""

    def __init__(self, gone: asyncio.Event) -> None:
        self._gone = gone

    async def receive(self) -> dict[str, Any]:
        await self._gone.wait()
        return {"type": "http.disconnect"}


@pytest.fixture
def service(tmp_path: Path, catalogue: Catalogue) -> Any:
    settings = ServiceSettings(
        auth="off", feedback_path=tmp_path / "feedback.jsonl", server=server_settings({}), deadline=WAIT
    )
    running = Service.start(settings, catalogue, limits=Limits())
    yield running
    running.close()


def test_work_is_told_to_stop_when_the_client_disconnects(service: Service) -> None:
    started = threading.Event()
    stopped = threading.Event()

    def work(stop: threading.Event) -> str:
        started.set()
        if stop.wait(WAIT):
            stopped.set()
        return "finished"

    async def call() -> None:
        gone = asyncio.Event()
        waiting = asyncio.ensure_future(service.run_for(_Request(gone), work))  # type: ignore[arg-type]
        await asyncio.get_running_loop().run_in_executor(None, started.wait, WAIT)
        gone.set()
        with pytest.raises(Abandoned, match="disconnected"):
            await waiting

    asyncio.run(call())
    assert stopped.wait(WAIT)


def test_work_the_caller_waits_for_is_answered(service: Service) -> None:
    async def call() -> str:
        return await service.run_for(_Request(asyncio.Event()), lambda stop: "answer")  # type: ignore[arg-type]

    assert asyncio.run(call()) == "answer"
