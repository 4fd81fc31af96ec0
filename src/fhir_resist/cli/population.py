"""``evaluate --all-patients``: every patient in the files, on every core.

The files are read and grouped by patient here (``fhir/read/population.py``); the patients are
evaluated in worker processes (``batch.py``) and come back in the order of their ids. Each
result goes to ``--out-dir`` as ``<id>.json`` (``<id>.txt`` with ``--summary``), or to standard
output as one compact Bundle a line; with ``--write`` each is delivered as a single patient's
is (outbox first). Standard error has a line per patient (a progress line instead on a
terminal), every patient not evaluated with the reason, and the totals.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_SERVER
from fhir_resist.errors import InputError

if TYPE_CHECKING:
    from fhir_resist.batch import Evaluated, Options, Outcome, Workers
    from fhir_resist.config import ServerSettings
    from fhir_resist.domain import Message


@dataclass
class Tally:
    evaluated: int = 0
    failed: int = 0
    internal: int = 0
    findings: int = 0
    issues: int = 0
    delivered: int = 0
    undelivered: int = 0
    names: dict[str, str] = field(default_factory=dict)  # file name folded to lower case -> patient


def check_options(args: argparse.Namespace) -> None:
    """``--all-patients`` reads files, and takes no option that names one patient."""
    if not args.paths:
        raise InputError("give the FHIR files or directories that hold the patients", where="--all-patients")
    for option, value in (("--patient", args.patient), ("--out", args.out), ("--tumour", args.tumour)):
        if value:
            raise InputError(f"{option} names one patient's input; it cannot be used", where="--all-patients")
    if args.workers is not None and args.workers < 1:
        raise InputError("at least 1", where="--workers")


def evaluate_population(args: argparse.Namespace, settings: ServerSettings, catalogue_dir: str | None) -> int:
    from fhir_resist.batch import Options
    from fhir_resist.cli.evaluate import _at

    out_dir = Path(args.out_dir) if args.out_dir else None
    options = Options(
        _at(args.at),
        settings.strategy,
        "summary" if args.summary else "json" if out_dir else None,
        repair_unicode=False,  # read by files.read_files, whose parse_json repaired it
        keep_bundle=out_dir is None or args.write,  # else only the text is kept
    )
    with _workers_ahead(args, catalogue_dir, options) as started:
        return _evaluated(args, settings, catalogue_dir, options, started)


def _evaluated(
    args: argparse.Namespace,
    settings: ServerSettings,
    catalogue_dir: str | None,
    options: Options,
    started: Workers | None,
) -> int:
    from fhir_resist.batch import iter_evaluated
    from fhir_resist.cli.evaluate import _read
    from fhir_resist.fhir.read.population import group_by_patient

    with _uncollected(getattr(args, "own_process", False)):
        resources, problems = _read(args.paths)
        grouped = group_by_patient(resources)
    for message in grouped.unattributed:
        print(f"fhir-resist: {message.where}: {message.text}", file=sys.stderr)
    if not grouped.patients:
        raise InputError("the input names no Patient", where=", ".join(args.paths))
    flaws = [*problems, *(m for m in grouped.unattributed if m.severity.value == "error")]
    if args.write and flaws:
        print(
            "fhir-resist: --write refused: the input was not read whole; nothing is written", file=sys.stderr
        )
    out_dir = Path(args.out_dir) if args.out_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    tally, began = Tally(), time.monotonic()
    show = Progress(sys.stderr, len(grouped.patients))
    delivering = _Delivering(settings) if args.write and not flaws else None
    patients = iter_evaluated(
        grouped.patients, options, workers=args.workers, catalogue=catalogue_dir, started=started
    )
    for outcome in patients:
        show.line(_handled(outcome, out_dir, args.summary, delivering, tally))
        show.step()
    show.done()
    print(f"fhir-resist: {_totals(tally, time.monotonic() - began)}", file=sys.stderr)
    return _exit_code(tally, flaws)


AHEAD_BYTES = 1 << 20  # input from which the workers start while it is read (about ten patients)


@contextmanager
def _workers_ahead(
    args: argparse.Namespace, catalogue_dir: str | None, options: Options
) -> Iterator[Workers | None]:
    """The worker processes, started before the input is read when it is large enough for
    their start-up (about 0.3 s each: the interpreter, imports, the catalogue) to hide behind
    its reading; None otherwise (``iter_evaluated`` then starts them, or evaluates in this
    process one patient or with one worker)."""
    from fhir_resist.batch import default_workers, start_workers
    from fhir_resist.catalogue import default_path
    from fhir_resist.files import input_bytes

    count = args.workers if args.workers is not None else default_workers()
    if count <= 1 or input_bytes(Path(p) for p in args.paths) < AHEAD_BYTES:
        yield None
        return
    with start_workers(count, str(catalogue_dir or default_path()), options) as started:
        yield started


@contextmanager
def _uncollected(own_process: bool) -> Iterator[None]:
    """In the program's own process, no garbage collection while the files are read and grouped,
    and what was read frozen out of collection after. Parsed JSON holds no reference cycles, so
    collecting finds nothing, yet with the service's thresholds it walked every object read some
    three times: about 1 s for 1,000 50-variant patients, half the reading. The workers have
    their own collectors; here, only what comes back is new."""
    if not own_process:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _handled(
    outcome: Outcome, out_dir: Path | None, summary: bool, delivering: _Delivering | None, tally: Tally
) -> tuple[str, bool]:
    """The outcome kept (file or standard output) and delivered; its line, and whether that line
    must be shown even on a terminal."""
    from fhir_resist.batch import Failed

    if isinstance(outcome, Failed):
        tally.failed += 1
        tally.internal += outcome.internal
        return f"{outcome.patient}: not evaluated: {outcome.reason}", True
    where = _kept(outcome, out_dir, summary, tally)
    if where is None:
        tally.failed += 1
        return f"{outcome.patient}: not kept: its file name would replace another patient's", True
    tally.evaluated += 1
    tally.findings += outcome.findings
    tally.issues += outcome.issues
    line = (
        f"{outcome.patient}: {outcome.status}, {outcome.findings} finding(s), {outcome.issues} issue(s)"
        f"{f', {outcome.errors} input error(s)' if outcome.errors else ''}{f' -> {where}' if out_dir else ''}"
    )
    if delivering is None:
        return line, False
    said, ok = delivering.deliver(outcome, where if out_dir and not summary else None, summary)
    tally.delivered += ok
    tally.undelivered += not ok
    return f"{line}; {said}", not ok


def _kept(outcome: Evaluated, out_dir: Path | None, summary: bool, tally: Tally) -> str | None:
    if out_dir is None:
        print(outcome.text if summary else json.dumps(outcome.bundle, separators=(",", ":")))
        return "standard output"
    name = f"{outcome.patient.removeprefix('Patient/')}.{'txt' if summary else 'json'}"
    if tally.names.setdefault(name.lower(), outcome.patient) != outcome.patient:
        return None  # ids that differ only in case are one file on some file systems
    path = out_dir / name
    _replace(path, (outcome.text or "") + "\n")
    return str(path)


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _Delivering:
    """Each result to the FHIR server through the outbox, as ``evaluate --write`` sends one."""

    def __init__(self, settings: ServerSettings) -> None:
        from fhir_resist.config import client_for
        from fhir_resist.fhir.outbox import Outbox

        self.client = client_for(settings)
        self.outbox = Outbox(settings.outbox)

    def deliver(self, outcome: Evaluated, out: str | None, summary: bool) -> tuple[str, bool]:
        from fhir_resist.cli.outbox import delivered, keep_unsaved
        from fhir_resist.fhir.delivery import deliver
        from fhir_resist.fhir.outbox import Scope

        scope = Scope(outcome.patient, outcome.therapies)
        delivery = deliver(self.client, outcome.bundle, scope, self.outbox)
        if delivery.outcome == "unsaved":
            keep_unsaved(delivery, outcome.bundle, summary=summary or out is None, out=out)
            return "not sent and not in the outbox (see above)", False
        return delivered(delivery).replace("\nfhir-resist: ", "; "), delivery.outcome == "delivered"


def _totals(tally: Tally, seconds: float) -> str:
    rate = (tally.evaluated + tally.failed) / seconds if seconds > 0 else 0.0
    text = (
        f"{tally.evaluated} patient(s) evaluated, {tally.failed} not; {tally.findings} finding(s), "
        f"{tally.issues} issue(s); {seconds:.1f} s ({rate:.0f} patients/s)"
    )
    if tally.delivered or tally.undelivered:
        text += f"; {tally.delivered} delivered, {tally.undelivered} not"
    return text


def _exit_code(tally: Tally, flaws: list[Message]) -> int:
    if tally.internal:
        return EXIT_INTERNAL
    if tally.undelivered:
        return EXIT_SERVER
    return EXIT_INPUT if tally.failed or flaws else EXIT_OK


class Progress:
    """On a terminal: one line, rewritten (done/total, rate, time left), with the lines that must
    be seen printed above it. Elsewhere: every line, plainly."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total, self.count = stream, total, 0
        self.terminal = stream.isatty()
        self.started = self.shown = time.monotonic()

    def line(self, said: tuple[str, bool]) -> None:
        text, always = said
        if always or not self.terminal:
            self.stream.write(("\r\x1b[K" if self.terminal else "") + f"fhir-resist: {text}\n")

    def step(self) -> None:
        self.count += 1
        now = time.monotonic()
        if self.terminal and (now - self.shown >= 0.1 or self.count == self.total):
            self.shown = now
            rate = self.count / max(now - self.started, 1e-9)
            left = (self.total - self.count) / rate
            self.stream.write(
                f"\r\x1b[Kfhir-resist: {self.count}/{self.total} patients, {rate:.0f}/s, "
                f"{int(left) // 60}:{int(left) % 60:02d} left"
            )
            self.stream.flush()

    def done(self) -> None:
        if self.terminal and self.count:
            self.stream.write("\n")
