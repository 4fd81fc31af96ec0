"""Read FHIR JSON and NDJSON files into resource dicts; problems become messages, not tracebacks."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fhir_resist.domain import Message, Severity

MAX_FILE_BYTES = 256 * 1024 * 1024


def read_files(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[Message]]:
    """Every resource in the files (a JSON resource or Bundle, or NDJSON) and every problem."""
    resources: list[dict[str, Any]] = []
    problems: list[Message] = []
    for path in _expand(paths):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                problems.append(
                    Message(
                        Severity.ERROR,
                        str(path),
                        f"file is larger than {MAX_FILE_BYTES // 2**20} MiB; not read",
                    )
                )
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Message(Severity.ERROR, str(path), f"cannot read file: {reason}"))
            continue
        if path.suffix.lower() in {".ndjson", ".jsonl"}:
            _ndjson(path, text, resources, problems)
        else:
            _json(path, text, resources, problems)
    return resources, problems


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories become their JSON/NDJSON files, sorted, recursively."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
        else:
            out.append(path)
    return out


_SUFFIXES = frozenset({".json", ".ndjson", ".jsonl"})


def _json(path: Path, text: str, resources: list[dict[str, Any]], problems: list[Message]) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            Message(Severity.ERROR, f"{path}:{exc.lineno}:{exc.colno}", f"not valid JSON ({exc.msg})")
        )
        return
    except RecursionError:
        problems.append(Message(Severity.ERROR, str(path), "JSON nested too deeply; not read"))
        return
    if isinstance(data, dict):
        resources.append(data)
    elif isinstance(data, list) and all(isinstance(item, dict) for item in data):
        resources.extend(data)
    else:
        problems.append(
            Message(Severity.ERROR, str(path), "expected a FHIR resource (a JSON object) or a list of them")
        )


def _ndjson(path: Path, text: str, resources: list[dict[str, Any]], problems: list[Message]) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            problems.append(
                Message(
                    Severity.ERROR,
                    f"{path}:{number}",
                    f"not valid JSON ({getattr(exc, 'msg', 'nested too deeply')}); line skipped",
                )
            )
            continue
        if isinstance(data, dict):
            resources.append(data)
        else:
            problems.append(Message(Severity.ERROR, f"{path}:{number}", "not a JSON object; line skipped"))
