"""A catalogue file's YAML as its schema model, and problems located at the line they are on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# PyYAML's C loader (libyaml) where it was built, else its pure-Python one: the same documents.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The document's node tree: its data, and the line of every element."""
    loader = Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def read(text: str) -> tuple[yaml.Node | None, Any]:
    """The document parsed once: its node tree (for lines) and its data, as ``yaml.safe_load``."""
    loader = Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def parse(file: Path, data: bytes, model: type[M], problems: list[str]) -> M | None:
    """The file's model, or None with each problem (file:line: element: message) in ``problems``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{file}: not UTF-8 text (byte {exc.start})")
        return None
    try:
        node, document = read(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.append(f"{file}{line}: not valid YAML ({getattr(exc, 'problem', exc)})")
        return None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            path = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{file}:{_line_of(node, loc)}: {path}: {error['msg']}{_hint(error)}")
        return None


_LINT = re.compile(r"^(?P<file>[^:]+\.yaml): (?P<rule>[a-z0-9-]+): (?P<key>[a-z_]+)(?:\[(?P<index>\d+)\])?: ")


def with_line(problem: str, root: Path) -> str:
    """``file: rule: key[i]: message`` becomes ``file:line: rule: key[i]: message``."""
    match = _LINT.match(problem)
    if match is None:
        return problem
    path = root.parent / match["file"]
    try:
        node = compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return problem
    loc: tuple[str | int, ...] = (
        (match["key"],) if match["index"] is None else (match["key"], int(match["index"]))
    )
    return f"{match['file']}:{_line_of(node, loc)}: {problem[len(match['file']) + 2 :]}"


_HINTS = {
    "extra_forbidden": " (unknown key: check its spelling against catalogue/README.md)",
    "missing": " (required key missing: see catalogue/README.md)",
}


def _hint(error: Any) -> str:
    return _HINTS.get(str(error.get("type")), "")


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (closest known)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                found: yaml.Node = value
                return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item
    return None
