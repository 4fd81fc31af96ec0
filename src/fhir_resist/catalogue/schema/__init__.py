"""The catalogue's schema: pydantic models of every YAML file under ``catalogue/``.

Models are frozen and forbid unknown keys, so a typo in the YAML is an error, not a
silently ignored field. ``fhir-resist catalogue schema`` exports them as JSON Schema.

Every model is importable from here. Where each is defined: ``vocabulary`` (the base model, ids,
effects, mechanisms, timings, strategies), ``evidence`` (levels and references), ``patterns``
(alteration patterns), ``conditions`` (what a countermeasure can require), ``cases``, ``rules``,
``reference_data`` (catalogue.yaml, genes, drugs, tumours), ``requirements``,
``resistance_genes`` and ``reading`` (the words free text is read with, the copy-number cut-offs).
"""

from __future__ import annotations

from fhir_resist.catalogue.schema.cases import Case, CaseAlteration
from fhir_resist.catalogue.schema.conditions import (
    Biomarker,
    Criterion,
    DailyDoseBelow,
    FindingTiming,
    PriorLines,
    PriorTherapy,
    Setting,
    TumourCondition,
)
from fhir_resist.catalogue.schema.evidence import CountermeasureEvidence, Evidence, EvidenceLevel, Reference
from fhir_resist.catalogue.schema.patterns import AlterationPattern, Requires, ReversionPattern
from fhir_resist.catalogue.schema.reading import ReadingFile
from fhir_resist.catalogue.schema.reference_data import (
    CatalogueMeta,
    Drug,
    DrugClass,
    DrugCodes,
    DrugsFile,
    Exon,
    ExonMap,
    ExonsFile,
    Gene,
    GenesFile,
    Mane,
    Parameter,
    TumourNode,
    TumoursFile,
)
from fhir_resist.catalogue.schema.requirements import RequirementRule, RequirementsFile, TestedPattern
from fhir_resist.catalogue.schema.resistance_genes import (
    Region,
    ResistanceGene,
    ResistanceGeneSet,
    ResistanceGenesFile,
)
from fhir_resist.catalogue.schema.rules import (
    Countermeasure,
    DoseInstruction,
    DoseScope,
    Partner,
    Rule,
    TherapyScope,
    TumourScope,
)
from fhir_resist.catalogue.schema.vocabulary import (
    Consequence,
    Effect,
    Id,
    Mechanism,
    Model,
    Strategy,
    Text,
    Timing,
)

__all__ = [
    "AlterationPattern",
    "Biomarker",
    "Case",
    "CaseAlteration",
    "CatalogueMeta",
    "Consequence",
    "Countermeasure",
    "CountermeasureEvidence",
    "Criterion",
    "DailyDoseBelow",
    "DoseInstruction",
    "DoseScope",
    "Drug",
    "DrugClass",
    "DrugCodes",
    "DrugsFile",
    "Effect",
    "Evidence",
    "EvidenceLevel",
    "Exon",
    "ExonMap",
    "ExonsFile",
    "FindingTiming",
    "Gene",
    "GenesFile",
    "Id",
    "Mane",
    "Mechanism",
    "Model",
    "Parameter",
    "Partner",
    "PriorLines",
    "PriorTherapy",
    "ReadingFile",
    "Reference",
    "Region",
    "RequirementRule",
    "RequirementsFile",
    "Requires",
    "ResistanceGene",
    "ResistanceGeneSet",
    "ResistanceGenesFile",
    "ReversionPattern",
    "Rule",
    "Setting",
    "Strategy",
    "TestedPattern",
    "Text",
    "TherapyScope",
    "Timing",
    "TumourCondition",
    "TumourNode",
    "TumourScope",
    "TumoursFile",
    "json_schema",
]


def json_schema() -> dict[str, object]:
    """JSON Schema of every catalogue file, keyed by file (published as catalogue/schema.json)."""
    files: dict[str, type[Model]] = {
        "catalogue.yaml": CatalogueMeta,
        "genes.yaml": GenesFile,
        "drugs.yaml": DrugsFile,
        "tumours.yaml": TumoursFile,
        "requirements.yaml": RequirementsFile,
        "resistance-genes.yaml": ResistanceGenesFile,
        "reading.yaml": ReadingFile,
        "rules/<area>/<id>.yaml": Rule,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fhir_resist resistance catalogue",
        "files": {name: model.model_json_schema() for name, model in files.items()},
    }
