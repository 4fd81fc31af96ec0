"""FHIR narrative XHTML: the ``text`` element, and text escaped for it.

FHIR R4 narrative rules (txt-1, txt-2): ``status`` ``generated`` and a ``div`` in the XHTML
namespace holding only basic elements (here ``p`` and ``b``), no attributes beyond the namespace,
no script, no external reference, and some text. Every value is escaped as XML text, and
characters XML cannot carry (C0 controls other than tab and line breaks, lone surrogates,
U+FFFE, U+FFFF) become U+FFFD, so a hostile display from the input can neither inject markup nor
make the resource unparseable. Imports nothing of the catalogue or the engine.
"""

from __future__ import annotations

import re
from typing import Any

XHTML = "http://www.w3.org/1999/xhtml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(value: str) -> str:
    """``value`` as XML text: markup characters escaped, characters XML cannot carry replaced."""
    return _NOT_XML.sub("\ufffd", value).translate(_ESCAPES)


def narrative(*paragraphs: str) -> dict[str, Any]:
    """The ``text`` element: each non-empty paragraph (escaped XHTML) a ``p`` of the ``div``."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs if p)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def withdrawn_text(detail: str) -> dict[str, Any]:
    """The narrative of one of our DetectedIssues a later evaluation withdraws (``detail`` ends
    with the withdrawal note)."""
    return narrative(f"<b>Withdrawn</b>: {escape(detail)}")
