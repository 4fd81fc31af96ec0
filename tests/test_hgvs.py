"""HGVS protein and coding DNA parsing: one table row per accepted or refused form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_resist import hgvs
from fhir_resist.errors import HgvsError, InputError
from fhir_resist.hgvs import (
    CodingChange,
    ProteinChange,
    parse_coding,
    parse_protein,
    protein_key,
    split_reference,
)

# text, start_aa, start, end_aa, end, alt, consequence, canonical text
PROTEINS = [
    # substitutions
    ("p.Gly12Asp", "G", 12, None, None, "D", "missense", "G12D"),
    ("p.G12D", "G", 12, None, None, "D", "missense", "G12D"),
    ("p.L858R", "L", 858, None, None, "R", "missense", "L858R"),
    ("p.GLY12ASP", "G", 12, None, None, "D", "missense", "G12D"),
    ("p.gly12asp", "G", 12, None, None, "D", "missense", "G12D"),
    ("p.(G12D)", "G", 12, None, None, "D", "missense", "G12D"),
    ("p.(Gly12Asp)", "G", 12, None, None, "D", "missense", "G12D"),
    ("NP_004976.2:p.Gly12Asp", "G", 12, None, None, "D", "missense", "G12D"),
    ("ENSP00000256078.5:p.(Gly12Cys)", "G", 12, None, None, "C", "missense", "G12C"),
    ("p.Val600Glu", "V", 600, None, None, "E", "missense", "V600E"),
    ("p.Gly12=", "G", 12, None, None, "G", "synonymous", "G12="),
    ("p.G12=", "G", 12, None, None, "G", "synonymous", "G12="),
    ("p.G12G", "G", 12, None, None, "G", "synonymous", "G12="),
    ("p.Gly12*", "G", 12, None, None, "*", "nonsense", "G12*"),
    ("p.Gly12Ter", "G", 12, None, None, "*", "nonsense", "G12*"),
    ("p.G12X", "G", 12, None, None, "*", "nonsense", "G12*"),
    ("p.R1114*", "R", 1114, None, None, "*", "nonsense", "R1114*"),
    ("p.R1114X", "R", 1114, None, None, "*", "nonsense", "R1114*"),
    ("p.Gly12?", "G", 12, None, None, None, "unknown", "G12?"),
    # start and stop
    ("p.Met1?", "M", 1, None, None, None, "start-lost", "M1?"),
    ("p.M1?", "M", 1, None, None, None, "start-lost", "M1?"),
    ("p.(Met1?)", "M", 1, None, None, None, "start-lost", "M1?"),
    ("p.Met1Val", "M", 1, None, None, "V", "start-lost", "M1V"),
    ("p.Met1=", "M", 1, None, None, "M", "synonymous", "M1="),
    ("p.*187Gln", "*", 187, None, None, "Q", "stop-lost", "*187Q"),
    ("p.Ter187Gln", "*", 187, None, None, "Q", "stop-lost", "*187Q"),
    ("p.*187Q", "*", 187, None, None, "Q", "stop-lost", "*187Q"),
    ("p.Ter187GlnextTer?", "*", 187, None, None, "Q", "extension", "*187Qext*?"),
    ("p.*110Glnext*17", "*", 110, None, None, "Q", "extension", "*110Qext*17"),
    ("p.*187Wext*?", "*", 187, None, None, "W", "extension", "*187Wext*?"),
    ("p.X188Qext*5", "*", 188, None, None, "Q", "extension", "*188Qext*5"),
    ("p.Met1ext-5", "M", 1, None, None, None, "extension", "M1ext-5"),
    ("p.Met1Valext-12", "M", 1, None, None, "V", "extension", "M1Vext-12"),
    # frameshifts
    ("p.Pro34ArgfsTer12", "P", 34, None, None, None, "frameshift", "P34Rfs*12"),
    ("p.P34Rfs*12", "P", 34, None, None, None, "frameshift", "P34Rfs*12"),
    ("p.P34RfsX12", "P", 34, None, None, None, "frameshift", "P34Rfs*12"),
    ("p.Pro34ArgfsTer?", "P", 34, None, None, None, "frameshift", "P34Rfs*?"),
    ("p.Pro34fs", "P", 34, None, None, None, "frameshift", "P34fs"),
    ("p.P34fs", "P", 34, None, None, None, "frameshift", "P34fs"),
    # in-frame
    ("p.Glu746_Ala750del", "E", 746, "A", 750, None, "inframe-deletion", "E746_A750del"),
    ("p.E746_A750del", "E", 746, "A", 750, None, "inframe-deletion", "E746_A750del"),
    ("p.(Glu746_Ala750del)", "E", 746, "A", 750, None, "inframe-deletion", "E746_A750del"),
    ("p.Val600del", "V", 600, None, None, None, "inframe-deletion", "V600del"),
    ("p.V600DEL", "V", 600, None, None, None, "inframe-deletion", "V600del"),
    ("p.Asp770_Asn771insGly", "D", 770, "N", 771, "G", "inframe-insertion", "D770_N771insG"),
    ("p.D770_N771insG", "D", 770, "N", 771, "G", "inframe-insertion", "D770_N771insG"),
    ("p.Asp770_Asn771insGlyAlaTer", "D", 770, "N", 771, "GA*", "inframe-insertion", "D770_N771insGA*"),
    ("p.Glu746_Ser752delinsVal", "E", 746, "S", 752, "V", "inframe-delins", "E746_S752delinsV"),
    ("p.E746_S752delinsV", "E", 746, "S", 752, "V", "inframe-delins", "E746_S752delinsV"),
    ("p.Leu747delinsPro", "L", 747, None, None, "P", "inframe-delins", "L747delinsP"),
    ("p.Ala767_Val769dup", "A", 767, "V", 769, None, "duplication", "A767_V769dup"),
    ("p.A767_V769dup", "A", 767, "V", 769, None, "duplication", "A767_V769dup"),
    ("p.V769dup", "V", 769, None, None, None, "duplication", "V769dup"),
]


@pytest.mark.parametrize(
    ("text", "start_aa", "start", "end_aa", "end", "alt", "consequence", "canonical"), PROTEINS
)
def test_parse_protein(
    text: str,
    start_aa: str,
    start: int,
    end_aa: str | None,
    end: int | None,
    alt: str | None,
    consequence: str,
    canonical: str,
) -> None:
    assert parse_protein(text) == ProteinChange(start_aa, start, end_aa, end, alt, consequence, canonical)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [row[0] for row in PROTEINS])
def test_canonical_text_parses_to_itself(text: str) -> None:
    change = parse_protein(text)
    assert parse_protein(f"p.{change.text}") == change
    assert protein_key(change.text) == change.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p.?", "unknown effect"),
        ("p.(?)", "unknown effect"),
        ("p.=", "no change to the whole protein"),
        ("p.(=)", "no change to the whole protein"),
        ("p.0", "no protein produced"),
        ("p.0?", "probably no protein"),
        ("", "not a protein HGVS expression"),
        ("   ", "not a protein HGVS expression"),
        ("garbage", "not a protein HGVS expression"),
        ("G12D", "not a protein HGVS expression"),
        ("c.35G>A", "coding DNA HGVS expression (c.)"),
        ("NM_004985.5:c.35G>A", "coding DNA HGVS expression (c.)"),
        ("g.25398284C>T", "genomic HGVS expression (g.)"),
        ("p.", "cannot parse protein HGVS"),
        ("p.G12", "cannot parse protein HGVS"),
        ("p.Gly12", "cannot parse protein HGVS"),
        ("p.Gly12Aspfoo", "cannot parse protein HGVS"),
        ("p.G12Dx", "cannot parse protein HGVS"),
        ("p.g12d", "cannot parse protein HGVS"),
        ("p.Gly12D", "cannot parse protein HGVS"),
        ("p.Xaa12Asp", "cannot parse protein HGVS"),
        ("p.(G12D", "cannot parse protein HGVS"),
        ("p.[Gly12Asp;Gly13Asp]", "cannot parse protein HGVS"),
        ("p.Gly12_Gly13", "cannot parse protein HGVS"),
        ("p.Glu746_Ala750delinsfoo", "cannot parse protein HGVS"),
        ("p.G0D", "must be 1 or greater"),
        ("p.Gly0Asp", "must be 1 or greater"),
        ("p.E0_A750del", "must be 1 or greater"),
        ("p.P34Rfs*0", "must be 1 or greater"),
        ("p.*110Glnext*0", "must be 1 or greater"),
        ("p.A750_E746del", "lower to a higher residue"),
        ("p.V600_V600del", "lower to a higher residue"),
        ("p.D770_N772insG", "two adjacent residues"),
        ("p.D770insG", "two adjacent residues"),
        ("p.Asp770_Asn771ins", "must name the inserted residues"),
        ("p.Leu747delins", "must name the inserted residues"),
        ("p.E746_A750delELREA", "lists residues after 'del'"),
        ("p.V769dupV", "lists residues after 'dup'"),
        ("p.Gly12Valext*5", "must replace the stop"),
        ("p.*110ext*17", "must replace the stop"),
        ("p.Gly12ext-5", "must start at Met1"),
    ],
)
def test_parse_protein_errors(text: str, message: str) -> None:
    with pytest.raises(HgvsError, match=re.escape(message)) as caught:
        parse_protein(text)
    assert repr(text) in str(caught.value)


def test_hgvs_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_protein("garbage")


@pytest.mark.parametrize(
    ("text", "codons"),
    [
        ("p.G12D", range(12, 13)),
        ("p.E746_A750del", range(746, 751)),
        ("p.A767_V769dup", range(767, 770)),
        ("p.D770_N771insG", range(770, 772)),
        ("p.P34fs", range(34, 35)),
    ],
)
def test_protein_codons(text: str, codons: range) -> None:
    assert parse_protein(text).codons == codons


@pytest.mark.parametrize(
    "text",
    ["p.Gly12Asp", "p.(G12D)", "p.(Gly12Asp)", "NP_004976.2:p.Gly12Asp", "NP_004976.2:p.(G12D)", "G12D",
     "p.G12D", " p.GLY12ASP ", "NP_004976.2(KRAS):p.Gly12Asp"],
)  # fmt: skip
def test_protein_key_equivalences(text: str) -> None:
    assert protein_key(text) == "G12D"


@pytest.mark.parametrize(
    ("text", "key"),
    [("E746_A750del", "E746_A750del"), ("p.Glu746_Ala750del", "E746_A750del"), ("R1114X", "R1114*"),
     ("p.Pro34ArgfsTer12", "P34Rfs*12"), ("G12G", "G12="), ("*187Gln", "*187Q")],
)  # fmt: skip
def test_protein_key(text: str, key: str) -> None:
    assert protein_key(text) == key


@pytest.mark.parametrize(
    ("text", "message"), [("c.35G>A", "coding DNA"), ("G12", "cannot parse"), ("", "cannot parse")]
)
def test_protein_key_errors(text: str, message: str) -> None:
    with pytest.raises(HgvsError, match=re.escape(message)):
        protein_key(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NP_004976.2:p.Gly12Asp", ("NP_004976.2", "p.Gly12Asp")),
        ("p.G12D", (None, "p.G12D")),
        ("p.(G12D)", (None, "p.(G12D)")),
        ("ENST00000256078.10:c.35G>A", ("ENST00000256078.10", "c.35G>A")),
        ("NM_004985.5(KRAS):c.35G>A", ("NM_004985.5", "c.35G>A")),
        ("NC_000012.12(NM_004985.5):c.35G>A", ("NM_004985.5", "c.35G>A")),
        ("  NM_004985.5:c.35G>A  ", ("NM_004985.5", "c.35G>A")),
        ("NM_004985.5:", (None, "NM_004985.5:")),
        ("", (None, "")),
    ],
)
def test_split_reference(text: str, expected: tuple[str | None, str]) -> None:
    assert split_reference(text) == expected


# text, transcript, start, start_offset, end, end_offset, kind, ref, alt, utr, canonical text
CODINGS = [
    ("c.35G>A", None, 35, 0, None, 0, "substitution", "G", "A", None, "c.35G>A"),
    ("NM_004985.5:c.35G>A", "NM_004985.5", 35, 0, None, 0, "substitution", "G", "A", None, "c.35G>A"),
    ("NM_004985.5(KRAS):c.35G>A", "NM_004985.5", 35, 0, None, 0, "substitution", "G", "A", None, "c.35G>A"),
    ("ENST00000256078:c.34G>T", "ENST00000256078", 34, 0, None, 0, "substitution", "G", "T", None, "c.34G>T"),
    ("c.35g>a", None, 35, 0, None, 0, "substitution", "G", "A", None, "c.35G>A"),
    ("c.2369C>T", None, 2369, 0, None, 0, "substitution", "C", "T", None, "c.2369C>T"),
    ("c.1234+5G>A", None, 1234, 5, None, 0, "substitution", "G", "A", None, "c.1234+5G>A"),
    ("c.1235-2A>G", None, 1235, -2, None, 0, "substitution", "A", "G", None, "c.1235-2A>G"),
    ("c.-14A>G", None, -14, 0, None, 0, "substitution", "A", "G", "5", "c.-14A>G"),
    ("c.*32A>G", None, 32, 0, None, 0, "substitution", "A", "G", "3", "c.*32A>G"),
    ("c.-15+1G>A", None, -15, 1, None, 0, "substitution", "G", "A", "5", "c.-15+1G>A"),
    ("c.35_36delinsTT", None, 35, 0, 36, 0, "delins", None, "TT", None, "c.35_36delinsTT"),
    ("c.35_36delGGinsTT", None, 35, 0, 36, 0, "delins", "GG", "TT", None, "c.35_36delinsTT"),
    ("c.35delinsTT", None, 35, 0, None, 0, "delins", None, "TT", None, "c.35delinsTT"),
    ("c.2235_2249del", None, 2235, 0, 2249, 0, "deletion", None, None, None, "c.2235_2249del"),
    ("c.2235_2249del15", None, 2235, 0, 2249, 0, "deletion", None, None, None, "c.2235_2249del"),
    ("c.35delG", None, 35, 0, None, 0, "deletion", "G", None, None, "c.35del"),
    ("c.-14_-10del", None, -14, 0, -10, 0, "deletion", None, None, "5", "c.-14_-10del"),
    ("c.100_*5del", None, 100, 0, 5, 0, "deletion", None, None, "3", "c.100_*5del"),
    ("c.123+1_124-1del", None, 123, 1, 124, -1, "deletion", None, None, None, "c.123+1_124-1del"),
    ("c.2236_2237insTTT", None, 2236, 0, 2237, 0, "insertion", None, "TTT", None, "c.2236_2237insTTT"),
    ("c.35dup", None, 35, 0, None, 0, "duplication", None, None, None, "c.35dup"),
    ("c.2310_2311dupGG", None, 2310, 0, 2311, 0, "duplication", "GG", None, None, "c.2310_2311dup"),
    ("c.100_102inv", None, 100, 0, 102, 0, "inversion", None, None, None, "c.100_102inv"),
    ("c.100_102inv3", None, 100, 0, 102, 0, "inversion", None, None, None, "c.100_102inv"),
]


@pytest.mark.parametrize(
    ("text", "transcript", "start", "start_offset", "end", "end_offset", "kind", "ref", "alt", "utr",
     "canonical"),
    CODINGS,
)  # fmt: skip
def test_parse_coding(
    text: str,
    transcript: str | None,
    start: int,
    start_offset: int,
    end: int | None,
    end_offset: int,
    kind: str,
    ref: str | None,
    alt: str | None,
    utr: str | None,
    canonical: str,
) -> None:
    expected = CodingChange(transcript, start, start_offset, end, end_offset, kind, ref, alt, utr, canonical)  # type: ignore[arg-type]
    assert parse_coding(text) == expected


@pytest.mark.parametrize("text", [row[0] for row in CODINGS])
def test_canonical_coding_text_parses_to_itself(text: str) -> None:
    change = parse_coding(text)
    assert parse_coding(change.text).text == change.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a coding DNA HGVS expression"),
        ("garbage", "not a coding DNA HGVS expression"),
        ("35G>A", "not a coding DNA HGVS expression"),
        ("g.25398284C>T", "genomic HGVS expression (g.)"),
        ("NC_000012.12:g.25398284C>T", "genomic HGVS expression (g.)"),
        ("n.35G>A", "non-coding transcript HGVS expression (n.)"),
        ("m.3243A>G", "mitochondrial HGVS expression (m.)"),
        ("r.35g>a", "an RNA HGVS expression (r.)"),
        ("p.Gly12Asp", "protein HGVS expression (p.)"),
        ("c.", "cannot parse coding HGVS"),
        ("c.35", "cannot parse coding HGVS"),
        ("c.35G>", "cannot parse coding HGVS"),
        ("c.35G>AA", "cannot parse coding HGVS"),
        ("c.35X>A", "cannot parse coding HGVS"),
        ("c.35delins", "cannot parse coding HGVS"),
        ("c.35_36ins", "cannot parse coding HGVS"),
        ("c.?", "cannot parse coding HGVS"),
        ("c.(35G>A)", "cannot parse coding HGVS"),
        ("c.[35G>A;36G>A]", "cannot parse coding HGVS"),
        ("c.0G>A", "must be 1 or greater"),
        ("c.-0A>G", "must be 1 or greater"),
        ("c.*0A>G", "must be 1 or greater"),
        ("c.0_3del", "must be 1 or greater"),
        ("c.123+0G>A", "must not be 0"),
        ("c.35G>G", "by itself"),
        ("c.35_36G>A", "must name one position"),
        ("c.36_35del", "lower to a higher position"),
        ("c.35_35del", "lower to a higher position"),
        ("c.*5_100del", "lower to a higher position"),
        ("c.35insT", "needs a range of positions"),
        ("c.100inv", "needs a range of positions"),
        ("c.2236_2238insT", "two adjacent positions"),
        ("c.2235_2249del14", "gives 14 nucleotides for a range of 15"),
        ("c.35delGG", "gives 2 nucleotides for a range of 1"),
    ],
)
def test_parse_coding_errors(text: str, message: str) -> None:
    with pytest.raises(HgvsError, match=re.escape(message)) as caught:
        parse_coding(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "codon"),
    [
        ("NM_004985.5:c.35G>A", 12),  # KRAS G12D
        ("c.34G>T", 12),  # KRAS G12C
        ("c.38G>A", 13),  # KRAS G13D
        ("c.436G>A", 146),  # KRAS A146T
        ("c.1799T>A", 600),  # BRAF V600E
        ("c.1G>A", 1),
        ("c.3G>A", 1),
        ("c.4G>A", 2),
        ("c.35dup", 12),
        ("c.1234+5G>A", None),
        ("c.1235-2A>G", None),
        ("c.-14A>G", None),
        ("c.*32A>G", None),
        ("c.35_36delinsTT", None),
        ("c.2235_2249del", None),
    ],
)
def test_coding_codon(text: str, codon: int | None) -> None:
    assert parse_coding(text).codon == codon


@pytest.mark.parametrize(
    ("text", "intronic"),
    [("c.35G>A", False), ("c.1234+5G>A", True), ("c.1235-2A>G", True), ("c.-14A>G", False),
     ("c.2235_2249del", False), ("c.123_124+2del", True)],
)  # fmt: skip
def test_coding_intronic(text: str, intronic: bool) -> None:
    assert parse_coding(text).intronic is intronic


@pytest.mark.parametrize("text", ["p.G\uff11\uff12D", "p.Gly\u0661\u0662Asp", "p.G12\u0663"])
def test_non_ascii_digits_are_not_positions(text: str) -> None:
    # Python's \d matches any Unicode digit; HGVS positions are ASCII digits only.
    with pytest.raises(HgvsError):
        parse_protein(text)


@pytest.mark.parametrize("text", ["c.\u0663\u0665G>A", "NM_004985.5:c.\uff13\uff15G>A"])
def test_non_ascii_digits_in_coding_changes_are_refused(text: str) -> None:
    with pytest.raises(HgvsError):
        parse_coding(text)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["", "NM_004985.5:", "NM_004985.5(KRAS):", "bad ref:"]),
    st.sampled_from(["c.", "C.", "p.", "g.", ""]),
    st.from_regex(r"\A[-*]?[0-9]{1,5}([+-][0-9]{1,2})?\Z"),
    st.sampled_from(["A", "C", "G", "T", "a", "t", "N", "U", ""]),
    st.sampled_from([">", ">>", "_36", ""]),
    st.sampled_from(["A", "C", "G", "T", "g", "", "del", "="]),
)
def test_a_single_position_substitution_is_read_as_the_general_grammar_reads_it(
    reference: str, prefix: str, position: str, ref: str, edit: str, alt: str
) -> None:
    text = f"{reference}{prefix}{position}{ref}{edit}{alt}"
    transcript, body = split_reference(text)
    assert _outcome(parse_coding, text) == _outcome(lambda t: hgvs._coding(transcript, body, t), text)


def _outcome(
    parse: Callable[[str], CodingChange | ProteinChange], text: str
) -> CodingChange | ProteinChange | str:
    try:
        return parse(text)
    except HgvsError as exc:
        return str(exc)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["", "NP_004976.2:", "NP_004976.2(KRAS):"]),
    st.sampled_from(["p.", "P.", "c.", ""]),
    st.sampled_from(["Gly", "GLY", "gly", "Met", "Ter", "Xaa", "del", "G", "*"]),
    st.from_regex(r"\A[0-9]{1,4}\Z"),
    st.sampled_from(["Asp", "asp", "Ter", "Met", "Gly", "del", "dup", "ins", "fs", "=", "?", "Abc", "D", ""]),
)
def test_a_three_letter_substitution_is_read_as_the_general_grammar_reads_it(
    reference: str, prefix: str, first: str, position: str, alt: str
) -> None:
    text = f"{reference}{prefix}{first}{position}{alt}"
    _, body = split_reference(text)
    assert _outcome(parse_protein, text) == _outcome(lambda t: hgvs._parse_protein_body(body, t), text)
