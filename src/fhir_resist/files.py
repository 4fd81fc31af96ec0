"""Read FHIR JSON and NDJSON files into resource dicts; problems become messages, not tracebacks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from fhir_resist.domain import Message, Severity
from fhir_resist.errors import JsonProblem

MAX_FILE_BYTES = 256 * 1024 * 1024
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` that never raises anything but ``JsonProblem``.

    Beyond syntax errors it refuses nesting too deep for the parser and integers too long to
    convert (Python refuses more than 4300 digits), and it replaces unpaired UTF-16 surrogates
    (``"\\ud800"`` is valid JSON but not valid Unicode, and cannot be written out again) with
    U+FFFD, so that every string read can be hashed and written.

    orjson reads the text when it reads it as ``json`` does (in about half the time); anything
    orjson refuses (NaN, a lone surrogate, nesting past 1024, a byte-order mark, UTF-16, invalid
    JSON) and any run of 19 or more digits (an integer beyond 64 bits, which orjson would read as
    a float) is read by ``json``, whose reading and errors are the reference.
    """
    fast = _orjson(text)
    return fast if fast is not _REFUSED else _standard(text)


_REFUSED: Any = object()
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19  # i64 and u64 hold every integer of up to 18 digits
_CHUNK = 1 << 20  # the text is searched for digit runs a mebibyte at a time (no copy of it whole)


def _orjson(text: str | bytes) -> Any:
    """orjson's reading of the text, or ``_REFUSED`` where it may differ from ``json``'s."""
    try:
        if _long_digits(text):
            return _REFUSED
    except UnicodeEncodeError:  # a str holding a lone surrogate
        return _REFUSED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _REFUSED


def _long_digits(text: str | bytes) -> bool:
    """Whether the text holds a run of 19 or more digits (the parts searched overlap by 18)."""
    for start in range(0, len(text), _CHUNK):
        part = text[start : start + _CHUNK + len(_LONG_DIGITS) - 1]
        raw = part.encode() if isinstance(part, str) else part
        if raw.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) >= 0:
            return True
    return False


def unicode_escaped(raw: bytes) -> bool:
    """Whether JSON bytes hold a ``\\u`` escape. A backslash (one byte, which memchr finds fast)
    is looked for first: most bodies have none, and a search for two bytes costs several times more."""
    return b"\\" in raw and b"\\u" in raw


def _standard(text: str | bytes) -> Any:
    """``json.loads``, its errors as ``JsonProblem`` and lone surrogates repaired."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"not valid JSON ({exc.msg})", f":{exc.lineno}:{exc.colno}") from None
    except RecursionError:
        raise JsonProblem("JSON nested too deeply; not read") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        detail = "an integer with more than 4300 digits" if "digits" in str(exc) else str(exc)
        raise JsonProblem(f"not usable JSON ({detail})") from None
    if isinstance(text, str):
        escaped = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    else:
        escaped = unicode_escaped(text) and _SURROGATE_ESCAPE_BYTES.search(text) is not None
    if escaped:
        try:
            data = _valid_unicode(data)
        except RecursionError:
            raise JsonProblem("JSON nested too deeply; not read") from None
    return data


def indented_json(value: Any) -> str:
    """``json.dumps(value, indent=2)``, character for character, in a hundredth of its time.

    ``json`` writes indented JSON with its pure-Python encoder (about 3 ms for a 50-variant
    patient's Bundle). orjson writes the same text for dicts, lists and tuples of strings,
    integers, booleans and null, once the characters ``json`` escapes by default and orjson
    writes as they are (DEL and everything beyond ASCII) are escaped as ``json`` escapes them;
    anything else (a float, whose spelling differs, or another type) is written by ``json``.
    """
    if _plain(value):
        try:
            out = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, nesting past orjson's limit
            return json.dumps(value, indent=2)
        if out.isascii() and "\x7f" not in out:
            return out
        return _NOT_ESCAPED.sub(_escaped, out)
    return json.dumps(value, indent=2)


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
_NOT_ESCAPED = re.compile("[\x7f-\U0010ffff]")  # outside strings orjson writes ASCII only


def _plain(value: Any) -> bool:
    """Whether the value holds only what orjson writes as ``json`` does, nested no deeper than
    orjson writes (so that a cycle ends the walk too, and ``json`` says what it says of it)."""
    pending, depths = [value], [0]
    while pending:
        node, depth = pending.pop(), depths.pop()
        kind = type(node)
        if kind is dict:
            inside = node.values()
        elif kind is list or kind is tuple:
            inside = node
        elif kind in _PLAIN_SCALARS:
            continue
        else:
            return False
        if depth == _MAX_DEPTH:
            return False
        for item in inside:  # a plain loop: this runs for every element written
            if type(item) not in _PLAIN_SCALARS:
                pending.append(item)
                depths.append(depth + 1)
    return True


_MAX_DEPTH = 254  # orjson refuses deeper nesting


def _escaped(found: re.Match[str]) -> str:
    """A character as ``json``'s ``ensure_ascii`` writes it: ``\\u`` and four hex digits, a
    surrogate pair beyond the Basic Multilingual Plane."""
    code = ord(found.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def valid_unicode(node: Any) -> Any:
    """``node`` with every unpaired UTF-16 surrogate in its strings (keys included) replaced by
    U+FFFD; ``node`` itself when it holds none (nothing is copied then).

    ``json.load`` turns ``"\\ud800"`` into a lone surrogate, which is no Unicode: it cannot be
    encoded, hashed or written. The Python API calls this on what it is given; the CLI and the
    service read through ``parse_json``, which repairs while parsing.
    """
    try:
        return _valid_unicode(node) if _holds_surrogate(node) else node
    except RecursionError:
        raise JsonProblem("JSON nested too deeply; not read") from None


def _holds_surrogate(node: Any) -> bool:
    if isinstance(node, str):
        return not node.isascii() and _SURROGATE.search(node) is not None
    if isinstance(node, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in node.items())
    if isinstance(node, list | tuple):
        return any(_holds_surrogate(v) for v in node)
    return False


def _valid_unicode(node: Any) -> Any:
    if isinstance(node, str):
        return node.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(node, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_valid_unicode(v) for v in node]
    return node


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
            text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is read past, as the service does
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Message(Severity.ERROR, str(path), f"cannot read file: {reason}"))
            continue
        if path.suffix.lower() in {".ndjson", ".jsonl"}:
            _ndjson(path, text, resources, problems)
        else:
            _json(path, text, resources, problems)
    return resources, problems


def input_bytes(paths: Iterable[Path]) -> int:
    """The size of the files ``read_files`` reads for these paths (what cannot be read counts 0)."""
    total = 0
    for path in _expand(paths):
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


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
        data = parse_json(text)
    except JsonProblem as exc:
        problems.append(Message(Severity.ERROR, f"{path}{exc.where}", str(exc)))
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
            data = parse_json(line)
        except JsonProblem as exc:
            problems.append(Message(Severity.ERROR, f"{path}:{number}", f"{exc}; line skipped"))
            continue
        if isinstance(data, dict):
            resources.append(data)
        else:
            problems.append(Message(Severity.ERROR, f"{path}:{number}", "not a JSON object; line skipped"))
