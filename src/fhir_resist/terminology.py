"""Code systems and codes of the FHIR standards we read and write (not clinical knowledge).

Every code here is in the verified reference tables (LOINC, SO, HL7 terminology) or is a
canonical URL this product defines under ``BASE``.
"""

from __future__ import annotations

import functools
from typing import Final

BASE: Final = "http://fhir-resist.org/fhir"

LOINC: Final = "http://loinc.org"
HGNC: Final = "http://www.genenames.org"
HGNC_GENE_ID: Final = "http://www.genenames.org/geneId"
HGVS: Final = "http://varnomen.hgvs.org"
SO_SYSTEMS: Final = frozenset(
    {
        "http://www.sequenceontology.org",
        "http://www.sequenceontology.org/",
        "http://purl.obolibrary.org/obo/so.owl",
    }
)
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC: Final = "http://www.whocc.no/atc"
NCIT: Final = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
SNOMED: Final = "http://snomed.info/sct"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
ICDO3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"
V2_0487: Final = "http://terminology.hl7.org/CodeSystem/v2-0487"
UCUM: Final = "http://unitsofmeasure.org"
GTS_ABBREVIATION: Final = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"

# OIDs of the systems above (HL7 Terminology), as some EHRs send them.
_OID_SYSTEMS: Final = {
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "urn:oid:2.16.840.1.113883.6.73": ATC,
    "urn:oid:2.16.840.1.113883.3.26.1.1": NCIT,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.281": HGNC,
    "urn:oid:2.16.840.1.113883.6.282": HGVS,
}
_KNOWN: Final = {
    s.split("://", 1)[1]: s
    for s in (LOINC, RXNORM, ATC, NCIT, SNOMED, ICD10CM, ICD10, HGNC, HGNC_GENE_ID, HGVS)
}


@functools.lru_cache(maxsize=4096)
def canonical_system(system: str) -> str:
    """The canonical URI for the usual variants of a code system URI (OID, https, trailing '/', '#')."""
    text = system.strip()
    if text in _OID_SYSTEMS:
        return _OID_SYSTEMS[text]
    bare = text.rstrip("/#")
    if "://" in bare:
        host_path = bare.split("://", 1)[1]
        return _KNOWN.get(host_path, bare)
    return bare


# Observation.code
VARIANT: Final = "69548-6"
MSI: Final = "81695-9"
MSI_IHC: Final = "62862-8"  # Microsatellite instability Immune stain Ql (mismatch-repair proteins by IHC)
TMB: Final = "94076-7"
GENOMIC_REPORT: Final = "51969-4"

# Variant components
GENE_STUDIED: Final = "48018-6"
C_HGVS: Final = "48004-6"
P_HGVS: Final = "48005-3"
G_HGVS: Final = "81290-9"
VAF: Final = "81258-6"
SOURCE_CLASS: Final = "48002-0"
DNA_CHANGE_TYPE: Final = "48019-4"
COPY_NUMBER: Final = "82155-3"
TRANSCRIPT_REF: Final = "51958-7"
VARIATION_CODE: Final = "81252-9"
ISCN: Final = "81291-7"  # Variant ISCN (a karyotype / cytogenetic description)
# German MII molecular genetics profile (Variante, slice gene-fusion): "Gene fusion transcript
# details in Blood or Tissue by Molecular genetics method Narrative", value GENE1::GENE2 in HGNC ids
# or symbols, e.g. HGNC:3689::HGNC:2697 "FGFR2::DBP"
GENE_FUSION: Final = "95123-6"
MOLECULAR_CONSEQUENCE: Final = "molecular-consequence"  # tbd-codes-cs (STU2 component)
CONCLUSION_STRING: Final = "conclusion-string"  # tbd-codes-cs

# What a report studied: STU2 / mCODE RegionStudied (Observation.code 53041-0 "DNA region of
# interest panel") and its components; STU3 GenomicStudy / GenomicStudyAnalysis (Procedure).
REGION_STUDIED: Final = "53041-0"
RANGES_EXAMINED: Final = "51959-5"  # Range(s) of DNA sequence examined (valueRange, coordinates)
REGION_DESCRIPTION: Final = "81293-3"  # Description of ranges of DNA sequences examined (string)
UNCALLABLE_REGIONS: Final = "uncallable-regions"  # tbd-codes-cs (STU2 RegionStudied component)
_GR_SD: Final = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition"
EXT_GENOMIC_STUDY_REFERENCE: Final = f"{_GR_SD}/genomic-study-reference"  # report -> study
EXT_GENOMIC_STUDY_ANALYSIS: Final = f"{_GR_SD}/genomic-study-analysis-ext"  # study -> analysis
EXT_ANALYSIS_REGIONS: Final = f"{_GR_SD}/genomic-study-analysis-regions"  # studied / called / uncalled
EXT_ANALYSIS_CHANGE_TYPE: Final = f"{_GR_SD}/genomic-study-analysis-change-type"  # SO codes assessed
SO_SNV: Final = "SO:0001483"
SO_MNV: Final = "SO:0002007"
SO_DELINS: Final = "SO:1000032"
SO_INSERTION: Final = "SO:0000667"
SO_SUBSTITUTION: Final = "SO:1000002"
SO_TRANSCRIPT_FUSION: Final = "SO:0001886"

# TherapeuticImplication (tbd-codes-cs; STU2 used predicted-therapeutic-implication)
THERAPEUTIC_IMPLICATION: Final = "therapeutic-implication"
PREDICTED_THERAPEUTIC_IMPLICATION: Final = "predicted-therapeutic-implication"
MEDICATION_ASSESSED: Final = "51963-7"
RESISTANT_ANSWERS: Final = frozenset({"LA6676-6", "LA9660-7", "LA9662-3"})  # resistant, presumed (non-)
RESPONSIVE_ANSWERS: Final = frozenset({"LA6677-4", "LA9661-5"})  # responsive, presumed responsive

# Variant value (LL1971-2)
PRESENT: Final = "LA9633-4"
ABSENT: Final = "LA9634-2"
NO_CALL: Final = "LA18198-4"
INDETERMINATE: Final = "LA11884-6"

# Genomic source class (LL378-1)
SOMATIC: Final = "LA6684-0"
GERMLINE: Final = "LA6683-2"

# MSI answers
MSI_STABLE: Final = "LA14122-8"
MSI_HIGH: Final = "LA26203-2"

# Sequence Ontology terms that say what kind of change a variant is
SO_COPY_NUMBER_VARIATION: Final = "SO:0001019"
SO_COPY_NUMBER_GAIN: Final = "SO:0001742"
SO_COPY_NUMBER_LOSS: Final = "SO:0001743"
SO_DELETION: Final = "SO:0000159"
SO_DUPLICATION: Final = "SO:1000035"
SO_GENE_FUSION: Final = "SO:0001565"
SO_TRANSLOCATION: Final = "SO:0000199"
SO_INVERSION: Final = "SO:1000036"
SO_COMPLEX_REARRANGEMENT: Final = "SO:0002062"

SO_CONSEQUENCE: Final = {
    "SO:0001583": "missense",
    "SO:0001587": "nonsense",
    "SO:0001589": "frameshift",
    "SO:0001822": "inframe-deletion",
    "SO:0001821": "inframe-insertion",
    "SO:0001574": "splice",
    "SO:0001575": "splice",
    "SO:0001630": "splice",
    "SO:0001819": "synonymous",
}

# Our own canonical URLs
NS_FINDING: Final = f"{BASE}/NamingSystem/finding"
NS_EVALUATION: Final = f"{BASE}/NamingSystem/evaluation"
NS_DEVICE: Final = f"{BASE}/NamingSystem/device"
CS_MECHANISM: Final = f"{BASE}/CodeSystem/resistance-mechanism"
CS_TIMING: Final = f"{BASE}/CodeSystem/resistance-timing"
CS_COUNTERMEASURE: Final = f"{BASE}/CodeSystem/countermeasure"
CS_EVIDENCE: Final = f"{BASE}/CodeSystem/evidence-level"
CS_IMPLICATION: Final = f"{BASE}/CodeSystem/therapy-implication"
CS_DATA_NEED: Final = f"{BASE}/CodeSystem/data-requirement"
CS_OVERRIDE: Final = f"{BASE}/CodeSystem/override-reason"
# Why a clinician overrides a resistance card (CDS Hooks overrideReasons; ours, not a standard).
OVERRIDE_REASONS: Final = (
    ("finding-disputed", "Finding not confirmed or disputed for this patient"),
    ("tumour-board", "Decision taken by the tumour board with this information"),
    ("no-alternative", "No suitable alternative for this patient"),
    ("trial-protocol", "Given within a clinical trial protocol"),
)
SD_DETECTED_ISSUE: Final = f"{BASE}/StructureDefinition/resistance-detected-issue"
SD_GUIDANCE: Final = f"{BASE}/StructureDefinition/resistance-guidance-response"
SD_REQUEST_GROUP: Final = f"{BASE}/StructureDefinition/resistance-request-group"
PLAN: Final = f"{BASE}/PlanDefinition/resistance-assessment"
EXT_RULE: Final = f"{BASE}/StructureDefinition/rule-id"
EXT_CATALOGUE_VERSION: Final = f"{BASE}/StructureDefinition/catalogue-version"
EXT_EVIDENCE_LEVEL: Final = f"{BASE}/StructureDefinition/evidence-level"
EXT_OFFER: Final = f"{BASE}/StructureDefinition/countermeasure-offer"
EXT_CONDITION: Final = f"{BASE}/StructureDefinition/countermeasure-condition"
CS_OFFER: Final = f"{BASE}/CodeSystem/countermeasure-offer"
RULE_URL: Final = f"{BASE}/catalogue/rule"
# A gene set of resistance-genes.yaml (the reference of an uncertain-resistance DetectedIssue).
RESISTANCE_GENES_URL: Final = f"{BASE}/catalogue/resistance-genes"
