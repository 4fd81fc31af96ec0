"""Deterministic generators of realistic FHIR R4 inputs for the benchmarks.

Everything here is synthetic but shaped like the Genomics Reporting IG (STU3) reports in
``examples/``: Variant Observations (LOINC 69548-6) with gene studied (HGNC), DNA change
(c.HGVS on the gene's MANE Select transcript), amino-acid change (p.HGVS on the MANE protein),
sample VAF, genomic source class and a Present/Absent value; copy-number and fusion Variants;
MSI and TMB biomarkers; a DiagnosticReport listing every result; Specimen, Patient, a colorectal
Condition and anti-EGFR MedicationRequests.

Where the codes come from:

- genes, HGNC ids and MANE transcripts: the catalogue's ``genes.yaml`` (read with
  ``fhir_resist.load_catalogue``); drugs' RxNorm and ATC codes: its ``drugs.yaml``;
- LOINC, Sequence Ontology, v2-0487 and SNOMED CT / ICD-10-CM codes: those the examples and
  test scenarios use (all in the catalogue's verified reference tables);
- the clinically meaningful variants (``HOTSPOTS``) are exactly the HGVS pairs written in
  ``examples/`` and the test scenarios.

Passenger variants are synthetic: a codon of the right amino acid is chosen, one base is
changed, and the c. and p. expressions are derived from it with the standard genetic code, so
each pair is self-consistent; the reference residue is not checked against the real protein
sequence (fhir_resist does not check it either). Passengers sit mostly in genes that no rule of
the catalogue mentions, some in genes that rules do mention.

Every generator takes a ``seed`` and returns the same output for the same arguments.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import fhir_resist
from fhir_resist import Catalogue

JSON = dict[str, Any]

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
HGVS = "http://varnomen.hgvs.org"
REFSEQ = "http://www.ncbi.nlm.nih.gov/refseq"
SO = "http://www.sequenceontology.org"
V2_0487 = "http://terminology.hl7.org/CodeSystem/v2-0487"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
GR = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
EHR = "http://ehr.example.org/fhir"

PRESENT = {"system": LOINC, "code": "LA9633-4", "display": "Present"}
ABSENT = {"system": LOINC, "code": "LA9634-2", "display": "Absent"}
SOMATIC = {"system": LOINC, "code": "LA6684-0", "display": "Somatic"}
GERMLINE = {"system": LOINC, "code": "LA6683-2", "display": "Germline"}
MSS = {"system": LOINC, "code": "LA14122-8", "display": "Stable"}
SNV = {"system": SO, "code": "SO:0001483", "display": "SNV"}
CN_GAIN = {"system": SO, "code": "SO:0001742", "display": "copy_number_gain"}
GENE_FUSION = {"system": SO, "code": "SO:0001565", "display": "gene_fusion"}
TUMOUR_SPECIMEN = {"system": V2_0487, "code": "TUMOR", "display": "Tumor"}
PLASMA_SPECIMEN = {"system": V2_0487, "code": "PLAS", "display": "Plasma"}
# The colorectal Condition of examples/crc-kras-g12d-cetuximab.json (SNOMED CT maps to COADREAD).
COLORECTAL = [
    {"system": SNOMED, "code": "408645001", "display": "Colorectal adenocarcinoma"},
    {"system": ICD10CM, "code": "C18", "display": "Malignant neoplasm of colon"},
]


@dataclass(frozen=True)
class Hotspot:
    gene: str
    protein: str  # 3-letter p. change, without the reference
    coding: str | None  # c. change, without the transcript; None where the repository gives none


# The clinically meaningful variants, exactly as examples/ and tests/data/scenarios write them.
HOTSPOTS: dict[str, Hotspot] = {
    "KRAS G12D": Hotspot("KRAS", "p.Gly12Asp", "c.35G>A"),
    "KRAS G12V": Hotspot("KRAS", "p.Gly12Val", None),
    "KRAS G13D": Hotspot("KRAS", "p.Gly13Asp", None),
    "NRAS Q61K": Hotspot("NRAS", "p.Gln61Lys", "c.181C>A"),
    "BRAF V600E": Hotspot("BRAF", "p.Val600Glu", "c.1799T>A"),
    "EGFR S492R": Hotspot("EGFR", "p.Ser492Arg", "c.1476C>A"),
    "PIK3CA E545K": Hotspot("PIK3CA", "p.Glu545Lys", None),
    "TP53 R175H": Hotspot("TP53", "p.Arg175His", "c.524G>A"),
    "APC R1450*": Hotspot("APC", "p.Arg1450Ter", "c.4348C>T"),
}
# Colorectal co-mutations reported with the KRAS G12D driver in a comprehensive panel.
CO_DRIVERS = ("TP53 R175H", "APC R1450*", "PIK3CA E545K")
# Pertinent negatives (Absent), by hotspot or by gene and exon as in the examples.
NEGATIVE_HOTSPOTS = ("BRAF V600E", "EGFR S492R")
NEGATIVE_EXONS = (("NRAS", 2, "12 and 13"), ("NRAS", 3, "59 and 61"), ("NRAS", 4, "117 and 146"))

# The standard genetic code, for self-consistent synthetic c./p. pairs.
_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {
    a + b + c: _AMINO[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES)
    for j, b in enumerate(_BASES)
    for k, c in enumerate(_BASES)
}
THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
}  # fmt: skip


# --------------------------------------------------------------------------- catalogue facts


@cache
def catalogue() -> Catalogue:
    return fhir_resist.load_catalogue()


def rule_genes(cat: Catalogue | None = None) -> frozenset[str]:
    """Genes (and fusion partners) that some rule's pattern names."""
    cat = cat or catalogue()
    found: set[str] = set()
    for rule in cat.rules:
        patterns = [
            *rule.alterations,
            *rule.requires.all_of,
            *rule.requires.none_of,
            *rule.requires.wild_type_tested,
            *(p for cm in rule.countermeasures for p in cm.only_if),
        ]
        for pattern in patterns:
            found.update(g for g in (pattern.gene, pattern.partner) if g)
    return frozenset(found)


def coded_genes(cat: Catalogue | None = None) -> tuple[str, ...]:
    """Genes of genes.yaml with an HGNC id and a MANE Select transcript and protein."""
    cat = cat or catalogue()
    return tuple(
        sorted(
            symbol
            for symbol, gene in cat.genes.items()
            if gene.hgnc_id and gene.mane_select and gene.mane_select.refseq and gene.mane_select.protein
        )
    )


def passenger_genes(cat: Catalogue | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(genes no rule names, genes some rule names), both with codes."""
    rules = rule_genes(cat)
    genes = coded_genes(cat)
    return tuple(g for g in genes if g not in rules), tuple(g for g in genes if g in rules)


# --------------------------------------------------------------------------- FHIR building blocks


def _concept(*codings: JSON, text: str | None = None) -> JSON:
    out: JSON = {"coding": [dict(c) for c in codings]}
    if text:
        out["text"] = text
    return out


def _loinc(code: str, display: str) -> JSON:
    return {"coding": [{"system": LOINC, "code": code, "display": display}]}


def _ref(kind: str, rid: str) -> JSON:
    return {"reference": f"{kind}/{rid}"}


def _entry(resource: JSON) -> JSON:
    return {"fullUrl": f"{EHR}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def _gene_component(symbol: str, cat: Catalogue) -> JSON:
    gene = cat.genes[symbol]
    return {
        "code": _loinc("48018-6", "Gene studied [ID]"),
        "valueCodeableConcept": _concept({"system": HGNC, "code": gene.hgnc_id, "display": symbol}),
    }


def _hgvs_component(code: str, display: str, expression: str) -> JSON:
    return {
        "code": _loinc(code, display),
        "valueCodeableConcept": _concept({"system": HGVS, "code": expression}),
    }


def _source_component(origin: JSON) -> JSON:
    return {"code": _loinc("48002-0", "Genomic Source Class"), "valueCodeableConcept": _concept(origin)}


def _category(*extra: JSON) -> list[JSON]:
    return [
        _concept({"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}),
        *extra,
        _concept({"system": V2_0074, "code": "GE", "display": "Genetics"}),
    ]


@dataclass(frozen=True)
class _Sample:
    """Who and when: what every Observation of one report shares."""

    patient: str
    specimen: str
    collected: str
    issued: str
    lab: str


def _variant_observation(oid: str, sample: _Sample, value: JSON, **fields: Any) -> JSON:
    """A Genomics Reporting Variant Observation (69548-6) with its Present/Absent value."""
    return _observation(oid, sample, VARIANT_CODE, "variant", valueCodeableConcept=_concept(value), **fields)


def _observation(oid: str, sample: _Sample, code: JSON, profile: str, **fields: Any) -> JSON:
    obs: JSON = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": [f"{GR}/{profile}"]},
        "status": "final",
        "category": _category(),
        "code": code,
        "subject": _ref("Patient", sample.patient),
        "effectiveDateTime": sample.collected,
        "issued": sample.issued,
        "performer": [_ref("Organization", sample.lab)],
        "specimen": _ref("Specimen", sample.specimen),
    }
    obs.update(fields)
    return obs


VARIANT_CODE = _loinc("69548-6", "Genetic variant assessment")


def variant(
    oid: str,
    sample: _Sample,
    symbol: str,
    *,
    protein: str | None,
    coding: str | None,
    vaf: float | None,
    present: bool = True,
    germline: bool = False,
    cat: Catalogue | None = None,
) -> JSON:
    """A Variant Observation: gene, c.HGVS (MANE transcript), p.HGVS (MANE protein), VAF, origin."""
    cat = cat or catalogue()
    mane = cat.genes[symbol].mane_select
    assert mane is not None
    components = [_gene_component(symbol, cat)]
    if coding:
        components.append(_hgvs_component("48004-6", "DNA change (c.HGVS)", f"{mane.refseq}:{coding}"))
    else:
        components.append(
            {
                "code": _loinc("51958-7", "Transcript reference sequence [ID]"),
                "valueCodeableConcept": _concept(
                    {"system": REFSEQ, "code": mane.refseq, "display": mane.refseq}
                ),
            }
        )
    if protein:
        components.append(
            _hgvs_component("48005-3", "Amino acid change (pHGVS)", f"{mane.protein}:{protein}")
        )
    if vaf is not None:
        components.append(
            {
                "code": _loinc("81258-6", "Sample VAF"),
                "valueQuantity": {"value": vaf, "system": UCUM, "code": "1"},
            }
        )
    components.append({"code": _loinc("48019-4", "DNA Change Type"), "valueCodeableConcept": _concept(SNV)})
    components.append(_source_component(GERMLINE if germline else SOMATIC))
    return _variant_observation(
        oid,
        sample,
        PRESENT if present else ABSENT,
        component=components,
    )


def exon_negative(
    oid: str, sample: _Sample, symbol: str, exon: int, codons: str, cat: Catalogue | None = None
) -> JSON:
    """No variant in a gene's exon hotspots, as the examples report RAS wild type."""
    cat = cat or catalogue()
    mane = cat.genes[symbol].mane_select
    assert mane is not None
    return _variant_observation(
        oid,
        sample,
        ABSENT,
        component=[
            _gene_component(symbol, cat),
            {
                "code": _loinc("51958-7", "Transcript reference sequence [ID]"),
                "valueCodeableConcept": _concept(
                    {"system": REFSEQ, "code": mane.refseq, "display": mane.refseq}
                ),
            },
            _source_component(SOMATIC),
            {
                "code": {"coding": [{"system": TBD, "code": "conclusion-string"}]},
                "valueString": (
                    f"No variant detected in {symbol} exon {exon} hotspots (codons {codons}; "
                    f"{mane.refseq}). Limit of detection 5% variant allele fraction."
                ),
            },
        ],
    )


def copy_number(
    oid: str,
    sample: _Sample,
    symbol: str,
    copies: float,
    *,
    present: bool = True,
    cat: Catalogue | None = None,
) -> JSON:
    """A copy-number Variant (gain with an absolute copy number, LOINC 82155-3)."""
    cat = cat or catalogue()
    return _variant_observation(
        oid,
        sample,
        PRESENT if present else ABSENT,
        component=[
            _gene_component(symbol, cat),
            {"code": _loinc("48019-4", "DNA Change Type"), "valueCodeableConcept": _concept(CN_GAIN)},
            {
                "code": _loinc("82155-3", "Genomic structural variant copy number"),
                "valueQuantity": {"value": copies, "system": UCUM, "code": "1"},
            },
            _source_component(SOMATIC),
        ],
    )


def fusion(oid: str, sample: _Sample, symbol: str, cat: Catalogue | None = None) -> JSON:
    """A fusion Variant naming one gene (partner not reported), as the IG's ROS1 fusion example."""
    cat = cat or catalogue()
    return _variant_observation(
        oid,
        sample,
        PRESENT,
        component=[
            {
                "code": _loinc("81252-9", "Discrete genetic variant"),
                "valueCodeableConcept": {"text": f"{symbol} fusion"},
            },
            _gene_component(symbol, cat),
            {"code": _loinc("48019-4", "DNA Change Type"), "valueCodeableConcept": _concept(GENE_FUSION)},
            _source_component(SOMATIC),
        ],
    )


def msi(oid: str, sample: _Sample) -> JSON:
    obs = _observation(
        oid,
        sample,
        _loinc("81695-9", "Microsatellite instability [Interpretation] in Cancer specimen Qualitative"),
        "molecular-biomarker",
        valueCodeableConcept=_concept(MSS),
    )
    obs["category"] = _category(_concept({"system": TBD, "code": "biomarker-category"}))
    return obs


def tmb(oid: str, sample: _Sample, value: float) -> JSON:
    obs = _observation(
        oid,
        sample,
        _loinc("94076-7", "Mutations/Megabase [# Ratio] in Tumor"),
        "molecular-biomarker",
        valueQuantity={"value": value},
    )
    obs["category"] = _category(_concept({"system": TBD, "code": "biomarker-category"}))
    return obs


def tumour_fraction(oid: str, sample: _Sample, percent: float) -> JSON:
    """A lab-reported ctDNA tumour fraction: no standard code exists, so it is named in text only."""
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": _ref("Patient", sample.patient),
        "specimen": _ref("Specimen", sample.specimen),
        "effectiveDateTime": sample.collected,
        "code": {"text": "ctDNA tumor fraction"},
        "valueQuantity": {"value": percent, "unit": "%", "system": UCUM, "code": "%"},
    }


def patient(pid: str, rng: random.Random) -> JSON:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": f"{EHR}/sid/mrn", "value": f"MRN-{rng.randrange(10**7, 10**8)}"}],
        "active": True,
        "name": [
            {"use": "official", "family": "Example", "given": [rng.choice(["Ada", "Ben", "Cora", "Dev"])]}
        ],
        "gender": rng.choice(["female", "male"]),
        "birthDate": f"{rng.randrange(1940, 1990)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
    }


def condition(cid: str, pid: str, onset: str) -> JSON:
    return {
        "resourceType": "Condition",
        "id": cid,
        "meta": {
            "profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"]
        },
        "clinicalStatus": _concept(
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
        ),
        "verificationStatus": _concept(
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
        ),
        "code": _concept(*COLORECTAL, text="Metastatic adenocarcinoma of the colon"),
        "subject": _ref("Patient", pid),
        "onsetDateTime": onset,
    }


def specimen(sid: str, pid: str, kind: JSON, collected: str, text: str) -> JSON:
    return {
        "resourceType": "Specimen",
        "id": sid,
        "status": "available",
        "type": _concept(kind, text=text),
        "subject": _ref("Patient", pid),
        "collection": {"collectedDateTime": collected},
    }


def drug_concept(drug_id: str, cat: Catalogue | None = None) -> JSON:
    """RxNorm and ATC codings of a catalogue drug (drugs.yaml)."""
    cat = cat or catalogue()
    drug = cat.drugs[drug_id]
    codings = []
    if drug.codes.rxnorm:
        codings.append({"system": RXNORM, "code": drug.codes.rxnorm, "display": drug.name})
    codings += [{"system": ATC, "code": atc, "display": drug.name} for atc in drug.codes.atc]
    return _concept(*codings, text=drug.name)


def medication_request(
    mid: str, pid: str, drug_id: str, authored: str, *, status: str = "active", intent: str = "order"
) -> JSON:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": intent,
        "medicationCodeableConcept": drug_concept(drug_id),
        "subject": _ref("Patient", pid),
        "authoredOn": authored,
    }


def medication_statement(mid: str, pid: str, drug_id: str, start: str, end: str | None) -> JSON:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": "completed" if end else "active",
        "medicationCodeableConcept": drug_concept(drug_id),
        "subject": _ref("Patient", pid),
        "effectivePeriod": period,
    }


def report(rid: str, sample: _Sample, results: list[JSON], text: str) -> JSON:
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "meta": {"profile": [f"{GR}/genomic-report"]},
        "identifier": [{"system": f"{EHR}/sid/lab-accession", "value": rid.upper()}],
        "status": "final",
        "category": [_concept({"system": V2_0074, "code": "GE", "display": "Genetics"})],
        "code": _concept(
            {"system": LOINC, "code": "51969-4", "display": "Genetic analysis report"}, text=text
        ),
        "subject": _ref("Patient", sample.patient),
        "effectiveDateTime": sample.collected,
        "issued": sample.issued,
        "performer": [_ref("Organization", sample.lab)],
        "specimen": [_ref("Specimen", sample.specimen)],
        "result": [_ref("Observation", r["id"]) for r in results],
    }


def organization(oid: str) -> JSON:
    return {
        "resourceType": "Organization",
        "id": oid,
        "active": True,
        "name": "Example Molecular Pathology Laboratory",
    }


# --------------------------------------------------------------------------- synthetic passengers


def passenger_change(rng: random.Random, max_codon: int = 1200) -> tuple[str, str, str]:
    """(c. change, p. change, consequence) for one synthetic SNV; the pair is self-consistent."""
    while True:
        codon_number = rng.randrange(2, max_codon)  # not the start codon
        triplet = "".join(rng.choice("ACGT") for _ in range(3))
        ref_aa = CODON_TABLE[triplet]
        if ref_aa == "*":
            continue  # a stop codon inside the coding sequence is not a reference
        position = rng.randrange(3)
        alt_base = rng.choice([b for b in "ACGT" if b != triplet[position]])
        mutated = triplet[:position] + alt_base + triplet[position + 1 :]
        alt_aa = CODON_TABLE[mutated]
        c_pos = 3 * (codon_number - 1) + position + 1
        coding = f"c.{c_pos}{triplet[position]}>{alt_base}"
        if alt_aa == ref_aa:
            return coding, f"p.{THREE[ref_aa]}{codon_number}=", "synonymous"
        consequence = "nonsense" if alt_aa == "*" else "missense"
        return coding, f"p.{THREE[ref_aa]}{codon_number}{THREE[alt_aa]}", consequence


# --------------------------------------------------------------------------- reports


FIXED_OBSERVATIONS = 5  # per panel report besides the N small variants: 2 CNVs, 1 fusion, MSI, TMB
SHARED_LAB = "bench-lab"


def _small_variants(
    n: int,
    sample: _Sample,
    prefix: str,
    rng: random.Random,
    cat: Catalogue,
    *,
    driver: str | None,
    picks: random.Random | None = None,
) -> list[JSON]:
    """N small-variant Observations: driver, pertinent negatives, co-drivers, then passengers.

    ``picks`` chooses which variants (default ``rng``); ``rng`` draws the VAFs. Serial samples of
    one tumour share ``picks`` so that they report the same clonal passengers.
    """
    picks = picks or rng
    out: list[JSON] = []
    seen: set[tuple[str, str]] = set()

    def add_hotspot(key: str, present: bool) -> None:
        spot = HOTSPOTS[key]
        seen.add((spot.gene, spot.protein))
        vaf = round(rng.uniform(0.08, 0.45), 3) if present else None
        out.append(
            variant(
                f"{prefix}-v{len(out):05d}",
                sample,
                spot.gene,
                protein=spot.protein,
                coding=spot.coding,
                vaf=vaf,
                present=present,
                cat=cat,
            )
        )

    if driver and len(out) < n:
        add_hotspot(driver, True)
    for symbol, exon, codons in NEGATIVE_EXONS:
        if len(out) < n:
            out.append(exon_negative(f"{prefix}-v{len(out):05d}", sample, symbol, exon, codons, cat))
    for key in NEGATIVE_HOTSPOTS:
        if len(out) < n:
            add_hotspot(key, False)
    for key in CO_DRIVERS:  # about one per 50 variants
        if len(out) < n and picks.random() < min(1.0, n / 50):
            add_hotspot(key, True)
    neutral, ruled = passenger_genes(cat)
    while len(out) < n:
        symbol = picks.choice(ruled) if picks.random() < 0.2 else picks.choice(neutral)
        coding, protein, _ = passenger_change(picks)
        if (symbol, protein) in seen:
            continue
        seen.add((symbol, protein))
        out.append(
            variant(
                f"{prefix}-v{len(out):05d}",
                sample,
                symbol,
                protein=protein,
                coding=coding,
                vaf=round(rng.betavariate(1.2, 8.0), 3) or 0.01,
                germline=picks.random() < 0.02,
                cat=cat,
            )
        )
    return out


def _panel(
    n_variants: int,
    sample: _Sample,
    prefix: str,
    rng: random.Random,
    cat: Catalogue,
    *,
    driver: str | None,
    specimen_kind: JSON = TUMOUR_SPECIMEN,
    specimen_text: str = "Formalin-fixed paraffin-embedded tumour tissue",
    extras: bool = True,
    picks: random.Random | None = None,
) -> list[JSON]:
    """Specimen, DiagnosticReport and its Observations for one sample."""
    observations = _small_variants(n_variants, sample, prefix, rng, cat, driver=driver, picks=picks)
    if extras:
        observations += [
            copy_number(f"{prefix}-cn-erbb2", sample, "ERBB2", float(rng.randrange(7, 15)), cat=cat),
            copy_number(f"{prefix}-cn-met", sample, "MET", float(rng.randrange(6, 12)), cat=cat),
            fusion(f"{prefix}-fus-ntrk1", sample, "NTRK1", cat),
            msi(f"{prefix}-msi", sample),
            tmb(f"{prefix}-tmb", sample, round(rng.uniform(2.0, 9.0), 1)),
        ]
    spec = specimen(sample.specimen, sample.patient, specimen_kind, sample.collected, specimen_text)
    diagnostic = report(
        f"{prefix}-report", sample, observations, "Comprehensive solid tumour NGS panel (DNA)"
    )
    return [spec, diagnostic, *observations]


def panel_report(
    n_variants: int,
    *,
    seed: int = 0,
    patient_id: str = "bench-pt",
    cat: Catalogue | None = None,
    driver: str | None = "KRAS G12D",
    extras: bool = True,
) -> JSON:
    """One patient's comprehensive-panel report as a collection Bundle.

    ``n_variants`` small-variant Observations (present and absent), plus ERBB2 and MET
    amplifications, an NTRK1 fusion, MSI (stable) and TMB: ``n_variants + FIXED_OBSERVATIONS``
    alterations in all. The patient has colorectal adenocarcinoma, an active cetuximab order
    and a proposed panitumumab order. ``driver``: the ``HOTSPOTS`` key of the present driver
    (None: RAS / BRAF wild type); ``extras``: the copy-number, fusion, MSI and TMB Observations.
    """
    cat = cat or catalogue()
    rng = random.Random(f"panel:{seed}:{n_variants}:{patient_id}")
    pid = patient_id
    sample = _Sample(pid, f"{pid}-tissue", "2026-07-30", "2026-08-21T14:32:00Z", SHARED_LAB)
    resources = [
        patient(pid, rng),
        condition(f"{pid}-crc", pid, "2026-07-30"),
        organization(SHARED_LAB),
        *_panel(n_variants, sample, pid, rng, cat, driver=driver, extras=extras),
        medication_request(f"{pid}-cetuximab", pid, "cetuximab", "2026-09-14"),
        medication_request(
            f"{pid}-panitumumab", pid, "panitumumab", "2026-09-10", status="draft", intent="proposal"
        ),
    ]
    return collection(f"{pid}-bundle", resources)


def collection(bid: str, resources: list[JSON]) -> JSON:
    return {
        "resourceType": "Bundle",
        "id": bid,
        "type": "collection",
        "timestamp": "2026-11-30T08:00:00Z",
        "entry": [_entry(r) for r in resources],
    }


def expected_alterations(n_variants: int) -> int:
    """How many alterations ``read_context`` reads from ``panel_report(n_variants)``."""
    return n_variants + FIXED_OBSERVATIONS


SERIAL_DATES = (
    ("2025-12-02", "2025-12-19T10:00:00Z"),  # tissue baseline, before panitumumab
    ("2026-06-10", "2026-06-18T10:00:00Z"),  # plasma at progression on panitumumab
    ("2026-11-02", "2026-11-10T10:00:00Z"),  # plasma after panitumumab was stopped
)


def serial_reports(n_variants: int = 50, *, seed: int = 0, patient_id: str = "bench-serial") -> list[JSON]:
    """Three reports of one patient over time, each a collection Bundle.

    1. tissue, 2025-12: RAS/BRAF wild type (KRAS G12D Absent, NRAS exons negative), MET not
       amplified; panitumumab started 2026-01-15;
    2. plasma ctDNA, 2026-06: KRAS G12D and MET amplification emerge (acquired resistance);
       panitumumab stopped 2026-06-20;
    3. plasma ctDNA, 2026-11, tumour fraction 14 %: KRAS G12D and MET gain cleared, so an
       anti-EGFR rechallenge can be considered once the drug-free interval is long enough.

    The first Bundle also carries Patient, Condition and the medication history.
    """
    cat = catalogue()
    rng = random.Random(f"serial:{seed}:{n_variants}:{patient_id}")
    pid = patient_id
    bundles = []
    for index, (collected, issued) in enumerate(SERIAL_DATES):
        plasma = index > 0
        sample = _Sample(pid, f"{pid}-sp{index}", collected, issued, SHARED_LAB)
        prefix = f"{pid}-r{index}"
        resources = _panel(
            n_variants,
            sample,
            prefix,
            rng,
            cat,
            driver="KRAS G12D" if index == 1 else None,
            specimen_kind=PLASMA_SPECIMEN if plasma else TUMOUR_SPECIMEN,
            specimen_text="Plasma (cell-free DNA)" if plasma else "FFPE tumour tissue (biopsy)",
            extras=False,
            picks=random.Random(f"serial-passengers:{seed}:{n_variants}:{patient_id}"),
        )
        kras = HOTSPOTS["KRAS G12D"]
        if index != 1:  # tested and not found: the baseline and the cleared sample
            resources.append(
                variant(
                    f"{prefix}-kras",
                    sample,
                    "KRAS",
                    protein=kras.protein,
                    coding=kras.coding,
                    vaf=None,
                    present=False,
                    cat=cat,
                )
            )
        resources.append(
            copy_number(
                f"{prefix}-met", sample, "MET", 11.0 if index == 1 else 2.0, present=index == 1, cat=cat
            )
        )
        resources.append(msi(f"{prefix}-msi", sample))
        if index == 2:
            resources.append(tumour_fraction(f"{prefix}-tf", sample, 14.0))
        diagnostic = next(r for r in resources if r["resourceType"] == "DiagnosticReport")
        diagnostic["result"] = [
            _ref("Observation", r["id"]) for r in resources if r["resourceType"] == "Observation"
        ]
        if index == 0:
            resources = [
                patient(pid, rng),
                condition(f"{pid}-crc", pid, "2025-11-20"),
                organization(SHARED_LAB),
                medication_statement(f"{pid}-panitumumab", pid, "panitumumab", "2026-01-15", "2026-06-20"),
                *resources,
            ]
        bundles.append(collection(f"{prefix}-bundle", resources))
    return bundles


def serial_expected_alterations(n_variants: int = 50) -> int:
    """Alterations in ``serial_reports``: per report N small variants, KRAS (when absent), MET, MSI."""
    return 3 * (n_variants + 2) + 2


def patients(n_patients: int, n_variants: int, *, seed: int = 0) -> Iterator[JSON]:
    """Resources of many patients, one panel report each, ids unique across patients."""
    cat = catalogue()
    yield organization(SHARED_LAB)
    for i in range(n_patients):
        bundle = panel_report(n_variants, seed=seed + i, patient_id=f"pt{i:05d}", cat=cat)
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] != "Organization":
                yield entry["resource"]


def ndjson(resources: Iterator[JSON]) -> Iterator[str]:
    """One compact JSON resource per line."""
    for resource in resources:
        yield json.dumps(resource, separators=(",", ":")) + "\n"


def dumps(resource: JSON) -> bytes:
    """Serialise like an EHR export: compact UTF-8 JSON."""
    return json.dumps(resource, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- a population export

# Drivers of the panel patients, by share: RAS-mutant colorectal cancer is about half, BRAF V600E
# about a tenth; the rest RAS / BRAF wild type (the patients anti-EGFR antibodies are given to).
DRIVERS: tuple[tuple[str | None, float], ...] = (
    ("KRAS G12D", 0.25),
    ("KRAS G12V", 0.1),
    ("KRAS G13D", 0.08),
    ("NRAS Q61K", 0.07),
    ("BRAF V600E", 0.1),
    (None, 0.4),
)
SERIAL_SHARE = 0.25  # patients followed with serial plasma samples (three reports each)
EXTRAS_SHARE = 0.15  # panels that also report amplifications (ERBB2, MET), a fusion, MSI and TMB


def population(n_patients: int, *, seed: int = 0, n_variants: int = 30) -> Iterator[JSON]:
    """A population's resources (Bundles unpacked, the shared laboratory once): a mix of panel
    reports with the ``DRIVERS`` above and, for ``SERIAL_SHARE`` of the patients, three serial
    reports (tissue, then plasma at progression, then plasma after the drug was stopped)."""
    cat = catalogue()
    rng = random.Random(f"population:{seed}")
    yield organization(SHARED_LAB)
    for i in range(n_patients):
        pid = f"pop{seed:02d}-{i:05d}"
        if rng.random() < SERIAL_SHARE:
            bundles = serial_reports(n_variants, seed=seed + i, patient_id=pid)
        else:
            driver = rng.choices([d for d, _ in DRIVERS], weights=[w for _, w in DRIVERS])[0]
            extras = rng.random() < EXTRAS_SHARE
            bundles = [
                panel_report(n_variants, seed=seed + i, patient_id=pid, cat=cat, driver=driver, extras=extras)
            ]
        for bundle in bundles:
            for entry in bundle["entry"]:
                if entry["resource"]["resourceType"] != "Organization":
                    yield entry["resource"]


def write_export(resources: Iterator[JSON], directory: str, *, per_file: int = 100_000) -> dict[str, int]:
    """The resources as a Bulk Data export: ``<Type>.ndjson`` files (``<Type>.<n>.ndjson`` past
    ``per_file`` lines) and an ``$export`` manifest; the count of each type."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    handles: dict[tuple[str, int], Any] = {}
    try:
        for resource in resources:
            rtype = resource["resourceType"]
            number = counts.get(rtype, 0) // per_file + 1
            counts[rtype] = counts.get(rtype, 0) + 1
            key = (rtype, number)
            if key not in handles:
                name = f"{rtype}.ndjson" if number == 1 else f"{rtype}.{number}.ndjson"
                handles[key] = (out / name).open("w", encoding="utf-8")
            handles[key].write(json.dumps(resource, separators=(",", ":")) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    manifest = {
        "transactionTime": "2026-11-30T08:00:00Z",
        "request": "[base]/$export?_type=Patient,Condition,Specimen,Observation,DiagnosticReport,"
        "MedicationRequest,MedicationStatement",
        "requiresAccessToken": False,
        "output": [
            {"type": rtype, "url": name.name}
            for name in sorted(out.glob("*.ndjson"))
            for rtype in [name.name.split(".")[0]]
        ],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts
