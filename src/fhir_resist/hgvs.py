"""Parse the HGVS protein (``p.``) and coding DNA (``c.``) expressions found in genomic reports.

One variant per expression: alleles (``[...;...]``), mosaics (``=/``) and uncertain positions
(``(?_?)``) are refused. Protein changes are normalised to the short 1-letter form the catalogue
uses (``G12D``), with ``*`` for a stop codon everywhere. No I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from fhir_resist.errors import HgvsError
from fhir_resist.frozen import fast_init

Consequence = Literal[
    "missense", "synonymous", "nonsense", "frameshift", "inframe-deletion", "inframe-insertion",
    "inframe-delins", "duplication", "start-lost", "stop-lost", "extension", "unknown",
]  # fmt: skip
CodingKind = Literal["substitution", "deletion", "insertion", "duplication", "delins", "inversion", "unknown"]


@fast_init  # made for every variant read (fhir_resist/frozen.py)
@dataclass(frozen=True, slots=True)
class ProteinChange:
    """A protein change; ``text`` is the canonical short form without ``p.`` (``G12D``, ``E746_A750del``)."""

    start_aa: str
    start: int
    end_aa: str | None
    end: int | None
    alt: str | None
    consequence: Consequence
    text: str

    @property
    def codons(self) -> range:
        """The residue numbers touched, ``start`` to ``end`` inclusive."""
        return range(self.start, (self.end if self.end is not None else self.start) + 1)


@fast_init
@dataclass(frozen=True, slots=True)
class CodingChange:
    """A coding DNA change; ``text`` is canonical (``c.35G>A``), without the transcript.

    5' UTR positions are negative (``c.-14`` -> ``start=-14``); 3' UTR positions are counted from
    the stop codon (``c.*32`` -> ``start=32``, ``utr='3'``). ``utr`` names the UTR of ``start``, or
    of ``end`` when only the end lies in the 3' UTR; ``text`` is authoritative for such ranges.
    """

    transcript: str | None
    start: int
    start_offset: int
    end: int | None
    end_offset: int
    kind: CodingKind
    ref: str | None
    alt: str | None
    utr: Literal["5", "3"] | None
    text: str

    @property
    def intronic(self) -> bool:
        return self.start_offset != 0 or self.end_offset != 0

    @property
    def codon(self) -> int | None:
        """ceil(start/3) for an exonic single-position change inside the CDS (not UTR, not intronic)."""
        if self.end is not None or self.utr is not None or self.intronic:
            return None
        return (self.start + 2) // 3


# --- shared helpers ------------------------------------------------------------------------------

_REFERENCE = re.compile(r"(?P<ref>[^\s:()]+)(?:\((?P<paren>[^\s:()]*)\))?:(?P<rest>\S.*)", re.ASCII)
_ACCESSION = re.compile(r"(?:[A-Z]{2}_\d+|ENS[A-Z]*[TP]\d+)(?:\.\d+)?", re.ASCII)
_PREFIX = re.compile(r"(?P<letter>[A-Za-z])\.")
_PREFIX_NAMES: Final = {
    "c": "a coding DNA", "g": "a genomic", "m": "a mitochondrial", "n": "a non-coding transcript",
    "o": "a circular genomic", "p": "a protein", "r": "an RNA",
}  # fmt: skip


@functools.lru_cache(maxsize=4096)  # a report's HGVS text is split to tell its kind, then to parse it
def split_reference(text: str) -> tuple[str | None, str]:
    """``'NP_004976.2:p.Gly12Asp'`` -> ``('NP_004976.2', 'p.Gly12Asp')``; no reference -> ``None``.

    A gene symbol in parentheses is dropped (``NM_004985.5(KRAS):c.35G>A``); an accession in
    parentheses (``NC_000012.12(NM_004985.5):c.35G>A``) is the reference the change is written on.
    """
    text = text.strip()
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None, text
    paren = match["paren"]
    ref = paren if paren and _ACCESSION.fullmatch(paren) else match["ref"]
    return ref, match["rest"]


def _check_prefix(body: str, text: str, want: str) -> None:
    if body[1:2] == "." and body[:1] == want:
        return
    match = _PREFIX.match(body)
    got = match["letter"].lower() if match else None
    if got == want:
        return
    example = "'p.Gly12Asp' or 'p.G12D'" if want == "p" else "'c.35G>A'"
    if got in _PREFIX_NAMES:
        raise HgvsError(
            f"{text!r} is {_PREFIX_NAMES[got]} HGVS expression ({got}.), not {_PREFIX_NAMES[want]} "
            f"one: expected '{want}.' as in {example}"
        )
    raise HgvsError(f"{text!r} is not {_PREFIX_NAMES[want]} HGVS expression: expected {example}")


def _number(digits: str, text: str, what: str) -> int:
    value = int(digits)
    if value < 1:
        raise HgvsError(f"{what} {digits!r} in {text!r} must be 1 or greater")
    return value


# --- protein -------------------------------------------------------------------------------------

_THREE_TO_ONE: Final = {
    "ala": "A", "arg": "R", "asn": "N", "asp": "D", "cys": "C", "gln": "Q", "glu": "E", "gly": "G",
    "his": "H", "ile": "I", "leu": "L", "lys": "K", "met": "M", "phe": "F", "pro": "P", "ser": "S",
    "thr": "T", "trp": "W", "tyr": "Y", "val": "V", "sec": "U", "pyl": "O", "ter": "*",
}  # fmt: skip
_RES3: Final = rf"(?:{'|'.join(_THREE_TO_ONE)}|\*)"  # matched case-insensitively: Gly, GLY, gly
_RES1: Final = r"(?-i:[ACDEFGHIKLMNPQRSTVWYUOX*])"  # upper case only; X is a legacy stop
_TOKEN3: Final = re.compile(_RES3, re.IGNORECASE | re.ASCII)
_NO_POSITION: Final = {
    "?": "an unknown effect on the protein",
    "=": "no change to the whole protein",
    "0": "no protein produced",
    "0?": "probably no protein produced",
}
_PROTEIN_EXAMPLES: Final = "'p.Gly12Asp', 'p.G12D', 'p.Glu746_Ala750del', 'p.Pro34ArgfsTer12'"
_EDIT_CONSEQUENCE: Final[dict[str, Consequence]] = {
    "del": "inframe-deletion", "ins": "inframe-insertion", "delins": "inframe-delins", "dup": "duplication",
}  # fmt: skip


def _aa(code: str) -> str:
    return _THREE_TO_ONE.get(code.lower(), "*" if code == "X" else code)


def _residues(seq: str, three: bool) -> str:
    return "".join(_aa(t) for t in (_TOKEN3.findall(seq) if three else seq))


def _substitution(m: re.Match[str], three: bool, text: str) -> ProteinChange:
    return _substituted(_aa(m["a1"]), _number(m["p1"], text, "residue number"), m["alt"])


def _substituted(ref: str, pos: int, raw: str) -> ProteinChange:
    alt = ref if raw == "=" else None if raw == "?" else _aa(raw)
    consequence: Consequence
    if alt == ref:
        consequence, short = "synonymous", f"{ref}{pos}="
    else:
        short = f"{ref}{pos}{alt or '?'}"
        if (ref, pos) == ("M", 1):
            consequence = "start-lost"
        elif alt is None:
            consequence = "unknown"
        elif ref == "*":
            consequence = "stop-lost"
        else:
            consequence = "nonsense" if alt == "*" else "missense"
    return ProteinChange(ref, pos, None, None, alt, consequence, short)


def _edit(m: re.Match[str], three: bool, text: str) -> ProteinChange:
    ref, pos, kind = _aa(m["a1"]), _number(m["p1"], text, "residue number"), m["kind"].lower()
    end_aa = _aa(m["a2"]) if m["a2"] else None
    end = _number(m["p2"], text, "residue number") if m["p2"] else None
    seq = _residues(m["seq"], three) if m["seq"] else None
    if end is not None and end <= pos:
        raise HgvsError(f"range in {text!r} must run from a lower to a higher residue number")
    if kind in ("ins", "delins") and seq is None:
        raise HgvsError(f"{text!r} must name the inserted residues after '{kind}'")
    if kind in ("del", "dup") and seq is not None:
        raise HgvsError(f"{text!r} lists residues after '{kind}': expected nothing, as in 'p.Val600del'")
    if kind == "ins" and end != pos + 1:
        raise HgvsError(f"insertion {text!r} must sit between two adjacent residues, as in 'p.D770_N771insG'")
    span = f"{ref}{pos}" + (f"_{end_aa}{end}" if end is not None else "")
    return ProteinChange(ref, pos, end_aa, end, seq, _EDIT_CONSEQUENCE[kind], f"{span}{kind}{seq or ''}")


def _frameshift(m: re.Match[str], three: bool, text: str) -> ProteinChange:
    ref, pos = _aa(m["a1"]), _number(m["p1"], text, "residue number")
    length = m["n"]
    if length and length != "?":
        length = str(_number(length, text, "frameshift length"))
    short = f"{ref}{pos}{_aa(m['alt']) if m['alt'] else ''}fs" + (f"*{length}" if length else "")
    return ProteinChange(ref, pos, None, None, None, "frameshift", short)


def _extension(m: re.Match[str], three: bool, text: str) -> ProteinChange:
    ref, pos = _aa(m["a1"]), _number(m["p1"], text, "residue number")
    alt = _aa(m["alt"]) if m["alt"] else None
    if m["up"] is not None:  # N-terminal: p.Met1ext-5, p.Met1Valext-12
        if (ref, pos) != ("M", 1):
            raise HgvsError(f"N-terminal extension {text!r} must start at Met1, as in 'p.Met1ext-5'")
        short = f"M1{alt or ''}ext-{_number(m['up'], text, 'extension length')}"
    else:  # C-terminal: p.*110Glnext*17, p.Ter110GlnextTer?
        if ref != "*" or alt is None:
            raise HgvsError(f"C-terminal extension {text!r} must replace the stop, as in 'p.*110Glnext*17'")
        length = m["n"] if m["n"] == "?" else str(_number(m["n"], text, "extension length"))
        short = f"*{pos}{alt}ext*{length}"
    return ProteinChange(ref, pos, None, None, alt, "extension", short)


_Builder = Callable[[re.Match[str], bool, str], ProteinChange]


def _protein_grammar(res: str, stop: str) -> tuple[tuple[re.Pattern[str], _Builder], ...]:
    first = rf"(?P<a1>{res})(?P<p1>\d+)"
    span = rf"{first}(?:_(?P<a2>{res})(?P<p2>\d+))?"
    rules: tuple[tuple[str, _Builder], ...] = (
        (rf"{first}(?P<alt>{res}|=|\?)", _substitution),
        (rf"{span}(?P<kind>delins|del|dup|ins)(?P<seq>(?:{res})+)?", _edit),
        (rf"{first}(?P<alt>{res})?fs(?:{stop}(?P<n>\d+|\?))?", _frameshift),
        (rf"{first}(?P<alt>{res})?ext(?:{stop}(?P<n>\d+|\?)|-(?P<up>\d+))", _extension),
    )
    return tuple((re.compile(pattern, re.IGNORECASE | re.ASCII), build) for pattern, build in rules)


# 3-letter codes first: a 1-letter expression can only start like a 3-letter one with '*'.
_GRAMMARS: Final = (
    (True, _protein_grammar(_RES3, r"(?:Ter|\*)")),
    (False, _protein_grammar(_RES1, r"(?-i:[*X])")),
)


def _parse_protein_body(body: str, text: str) -> ProteinChange:
    _check_prefix(body, text, "p")
    inner = body[2:]
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]  # predicted: p.(Gly12Asp)
    if inner in _NO_POSITION:
        raise HgvsError(
            f"{text!r} is valid HGVS for {_NO_POSITION[inner]} but names no residue, "
            "so it cannot be matched: expected a change at a position, such as 'p.Gly12Asp'"
        )
    for three, grammar in _GRAMMARS:
        for pattern, build in grammar:
            match = pattern.fullmatch(inner)
            if match is not None:
                return build(match, three, text)
    raise HgvsError(f"cannot parse protein HGVS {text!r}: expected a change such as {_PROTEIN_EXAMPLES}")


# p.Gly12Asp and p.Gly12= (synonymous), the forms most p. expressions take, read without trying the
# general grammar's patterns.
_SUBSTITUTION3: Final = re.compile(r"p\.([A-Za-z]{3})([1-9]\d*)([A-Za-z]{3}|=)", re.ASCII)


def parse_protein(text: str) -> ProteinChange:
    """Parse a ``p.`` expression, with or without a reference (``NP_004976.2:``) or ``p.(...)``."""
    _, body = split_reference(text)
    simple = _SUBSTITUTION3.fullmatch(body)
    if simple is not None:
        first, position, second = simple.groups()
        ref = _THREE_TO_ONE.get(first.lower())
        alt = second if second == "=" else _THREE_TO_ONE.get(second.lower())
        if ref is not None and alt is not None:
            return _substituted(ref, int(position), alt)
    return _parse_protein_body(body, text)


def protein_key(text: str) -> str:
    """Normalise any accepted protein notation to ``ProteinChange.text``; bare ``G12D`` is accepted."""
    _, body = split_reference(text)
    if _PREFIX.match(body) is None:
        body = f"p.{body}"
    return _parse_protein_body(body, text).text


# --- coding DNA ----------------------------------------------------------------------------------


def _position_pattern(g: str) -> str:
    return rf"(?P<{g}utr>[-*])?(?P<{g}>\d+)(?P<{g}off>[+-]\d+)?"


_CODING: Final = re.compile(
    rf"{_position_pattern('s')}(?:_{_position_pattern('e')})?"
    r"(?:(?P<ref>[ACGT])>(?P<alt>[ACGT])"
    r"|del(?P<dseq>[ACGTN]+|\d+)?ins(?P<iseq>[ACGTN]+)"
    r"|(?P<kind>del|dup|inv)(?P<seq>[ACGTN]+|\d+)?"
    r"|ins(?P<ins>[ACGTN]+))",
    re.IGNORECASE | re.ASCII,
)
_CODING_EXAMPLES: Final = "'c.35G>A', 'c.1234+5G>A', 'c.-14A>G', 'c.2235_2249del', 'c.2236_2237insTTT'"
_KINDS: Final[dict[str, CodingKind]] = {"del": "deletion", "dup": "duplication", "inv": "inversion"}
_REGION_RANK: Final = {"-": 0, "": 1, "*": 2}


class _Pos(NamedTuple):  # a tuple: built for every c. position read, so built cheaply
    region: str  # '-' 5' UTR, '' CDS, '*' 3' UTR
    number: int
    offset: int

    @property
    def signed(self) -> int:
        return -self.number if self.region == "-" else self.number

    def key(self) -> tuple[int, int, int]:
        return _REGION_RANK[self.region], self.signed, self.offset

    def __str__(self) -> str:
        return f"{self.region}{self.number}{f'{self.offset:+d}' if self.offset else ''}"


def _position(m: re.Match[str], g: str, text: str) -> _Pos:
    offset = m[f"{g}off"]
    if offset is not None and int(offset) == 0:
        raise HgvsError(f"intronic offset {offset!r} in {text!r} must not be 0")
    return _Pos(m[f"{g}utr"] or "", _number(m[g], text, "position"), int(offset or 0))


def _check_span(start: _Pos, end: _Pos | None, kind: CodingKind, given: str | None, text: str) -> None:
    if end is not None and end.key() <= start.key():
        raise HgvsError(f"range in {text!r} must run from a lower to a higher position")
    if end is None and kind in ("insertion", "inversion"):
        raise HgvsError(f"{kind} {text!r} needs a range of positions, as in 'c.2236_2237insTTT'")
    if end is not None and kind == "substitution":
        raise HgvsError(f"substitution {text!r} must name one position, as in 'c.35G>A'")
    exonic = start.offset == 0 and (end is None or (end.offset == 0 and end.region == start.region))
    if not exonic:
        return
    span = 1 if end is None else end.signed - start.signed + 1
    if kind == "insertion" and span != 2:
        raise HgvsError(f"insertion {text!r} must sit between two adjacent positions, as in 'c.35_36insT'")
    length = None if given is None else int(given) if given.isdigit() else len(given)
    if length is not None and length != span:
        raise HgvsError(f"{text!r} gives {length} nucleotides for a range of {span}: expected them to agree")


# The form most c. expressions take, a substitution at one position (c.35G>A), read without the
# general grammar; anything else, and any error, is left to the general reading.
_SUBSTITUTION: Final = re.compile(r"c\.([1-9]\d*)([ACGT])>([ACGT])", re.IGNORECASE | re.ASCII)


def parse_coding(text: str) -> CodingChange:
    """Parse a ``c.`` expression, with or without a transcript (``NM_004985.5:``)."""
    transcript, body = split_reference(text)
    simple = _SUBSTITUTION.fullmatch(body)
    if simple is not None:
        position, ref, alt = simple[1], simple[2].upper(), simple[3].upper()
        if ref != alt:
            shown = f"c.{position}{ref}>{alt}"
            return CodingChange(transcript, int(position), 0, None, 0, "substitution", ref, alt, None, shown)
    return _coding(transcript, body, text)


def _coding(transcript: str | None, body: str, text: str) -> CodingChange:
    """A ``c.`` expression read by the general grammar."""
    _check_prefix(body, text, "c")
    m = _CODING.fullmatch(body[2:])
    if m is None:
        raise HgvsError(f"cannot parse coding HGVS {text!r}: expected a change such as {_CODING_EXAMPLES}")
    start = _position(m, "s", text)
    end = _position(m, "e", text) if m["e"] is not None else None
    kind: CodingKind
    ref, alt, given = None, None, None
    if m["ref"]:
        kind, ref, alt = "substitution", m["ref"].upper(), m["alt"].upper()
        if ref == alt:
            raise HgvsError(f"{text!r} substitutes {ref} by itself: expected a different base")
        edit = f"{ref}>{alt}"
    elif m["iseq"]:
        kind, given, alt = "delins", m["dseq"], m["iseq"].upper()
        edit = f"delins{alt}"
    elif m["kind"]:
        kind, given = _KINDS[m["kind"].lower()], m["seq"]
        edit = m["kind"].lower()
    else:
        kind, alt = "insertion", m["ins"].upper()
        edit = f"ins{alt}"
    _check_span(start, end, kind, given, text)
    if given is not None and not given.isdigit():
        ref = given.upper()
    utr_of = start.region or (end.region if end is not None else "")
    utr: Literal["5", "3"] | None = "5" if utr_of == "-" else "3" if utr_of == "*" else None
    shown = f"c.{start}{f'_{end}' if end is not None else ''}{edit}"
    end_at, end_off = (end.signed, end.offset) if end is not None else (None, 0)
    return CodingChange(transcript, start.signed, start.offset, end_at, end_off, kind, ref, alt, utr, shown)
