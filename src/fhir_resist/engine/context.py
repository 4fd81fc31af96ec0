"""The patient's context in the catalogue's terms: current gene symbols, the cancer type, and the
catalogue drugs of each therapy, current or past."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Alteration, CnvCall, Kind, Message, PatientContext, Severity, Therapy
from fhir_resist.engine.regimens import Resolved

RECENT_ADMINISTRATION = "recent-administration-days"  # catalogue parameter
AMPLIFICATION = "amplification-min-copies"  # catalogue parameter
_CURRENT_STATUS = frozenset({"active", "on-hold", "draft", "intended", "in-progress", "unknown"})

# Where the messages about which cancer type to use point: the Conditions' code, which it comes
# from. A caller that can choose the type (the CLI's --tumour) adds its own hint to these.
CANCER_TYPE = "Condition.code"


def resolve_gene(alt: Alteration, catalogue: Catalogue) -> Alteration:
    """The current gene symbol, and gains at or above the catalogue's threshold as amplifications."""
    symbol = catalogue.gene_symbol(alt.gene, alt.hgnc_id, alt.transcript)
    partner = (
        catalogue.gene_symbol(alt.partner, alt.partner_hgnc_id)
        if alt.partner or alt.partner_hgnc_id
        else None
    )
    cnv = alt.cnv
    if (
        cnv is CnvCall.GAIN
        and alt.copy_number is not None
        and alt.copy_number >= catalogue.parameter(AMPLIFICATION)
    ):
        cnv = CnvCall.AMPLIFICATION
    if symbol == alt.gene and partner == alt.partner and cnv == alt.cnv:
        return alt
    label = alt.label.replace(" gain", " amplification", 1) if cnv is not alt.cnv else alt.label
    if alt.gene is None and symbol is not None and label.startswith("? "):
        label = f"{symbol} {label[2:]}"  # the gene came from the MANE transcript or the HGNC id
    if alt.kind is Kind.FUSION and symbol is not None:
        second = partner or alt.partner_hgnc_id
        label = f"{symbol}::{second} fusion" if second else f"{symbol} fusion"
    return replace(alt, gene=symbol, partner=partner, cnv=cnv, label=label)


def gene_conflicts(alterations: tuple[Alteration, ...], catalogue: Catalogue) -> list[Message]:
    """An HGNC id and a displayed symbol that name different genes: the id wins, and we say so.
    An id that HGNC does not know, or has withdrawn without one successor, names no gene: said too."""
    out = []
    hgnc = catalogue.hgnc()
    for alt in alterations:
        named = (
            (alt.hgnc_id, alt.gene, "gene-studied"),
            (alt.partner_hgnc_id, alt.partner, "gene-fusion"),
        )
        for hgnc_id, shown, slot in named:
            if hgnc_id and hgnc is not None and catalogue.gene_symbol(None, hgnc_id) is None:
                entry = hgnc.by_id.get(hgnc_id)
                what = (
                    f"{hgnc_id} is not in HGNC's table"
                    if entry is None
                    else f"{hgnc_id} ({entry.symbol}) is withdrawn by HGNC ({entry.status.lower()})"
                )
                out.append(
                    Message(
                        Severity.WARNING,
                        f"{alt.source}.component:{slot}",
                        f"{what}; "
                        + (f"read by its displayed symbol, {shown}" if shown else "no gene is read"),
                    )
                )
        by_id = catalogue.gene_symbol(None, alt.hgnc_id) if alt.hgnc_id else None
        by_name = catalogue.gene_symbol(alt.gene, None) if alt.gene else None
        if by_id and by_name and by_id != by_name and by_id != alt.hgnc_id:
            out.append(
                Message(
                    Severity.WARNING,
                    f"{alt.source}.component:gene-studied",
                    f"{alt.hgnc_id} is {by_id} but is displayed as {alt.gene}; read as {by_id}",
                )
            )
    return out


def cancer_type(context: PatientContext, catalogue: Catalogue, messages: list[Message]) -> str | None:
    """The OncoTree code to assess against: the override if the catalogue knows it, else the first
    recorded Condition the catalogue knows (primary before secondary); what was not used is said."""
    if context.tumour_override:
        override = context.tumour_override.upper()
        if override in catalogue.tumours:
            return override
        messages.append(
            Message(
                Severity.ERROR,
                CANCER_TYPE,
                f"the cancer type given in place of Condition.code, '{context.tumour_override}', is not "
                "an OncoTree code in the catalogue; the recorded Conditions are used",
            )
        )
    resolved: dict[str, str] = {}
    rank = {"primary": 0, "unknown": 1, "secondary": 2}
    for tumour in sorted(context.tumours, key=lambda t: (rank.get(t.role, 1), t.source)):
        code = catalogue.resolve_tumour(tumour.codings)
        if code is None:
            messages.append(
                Message(
                    Severity.INFORMATION,
                    f"{tumour.source}.code",
                    "condition is not a cancer type the catalogue knows; not used",
                )
            )
        elif tumour.role != "secondary" or not resolved:  # a metastasis site is not the cancer type
            resolved.setdefault(code, tumour.source)
    if len(resolved) > 1:
        listed = ", ".join(f"{code} ({source})" for code, source in resolved.items())
        messages.append(
            Message(
                Severity.WARNING,
                CANCER_TYPE,
                f"several cancer types are recorded: {listed}; the first is used",
            )
        )
    if resolved:
        return next(iter(resolved))
    if not context.tumours:
        messages.append(
            Message(
                Severity.WARNING,
                "Condition",
                "no cancer diagnosis in the input; tumour-specific rules cannot be applied",
            )
        )
    return None


def catalogue_therapies(context: PatientContext, catalogue: Catalogue, messages: list[Message]) -> Resolved:
    """Every therapy with the catalogue drugs it contains (current and past)."""
    out: list[tuple[Therapy, tuple[str, ...]]] = []
    for therapy in context.therapies:
        drugs = catalogue.resolve_drugs(therapy.codings, therapy.text)
        if not drugs:
            messages.append(
                Message(
                    Severity.INFORMATION,
                    f"{therapy.source}.medication[x]",
                    f"'{therapy.label}' is not a drug the catalogue knows; not assessed",
                )
            )
            continue
        if therapy.status in {"entered-in-error", "not-taken", "cancelled"}:
            continue
        out.append((therapy, drugs))
    return tuple(sorted(out, key=lambda item: item[0].source))


def current_and_past(resolved: Resolved, catalogue: Catalogue, today: date) -> tuple[Resolved, Resolved]:
    """The therapies given now or proposed, and those given before."""
    recent = catalogue.parameter(RECENT_ADMINISTRATION)
    current = tuple(item for item in resolved if _is_current(item[0], today, recent))
    past = tuple(item for item in resolved if not _is_current(item[0], today, recent))
    return current, past


def _is_current(therapy: Therapy, today: date, recent_days: float) -> bool:
    """Given now or proposed: not stopped, completed or ended before today; an administration
    completed within the catalogue's recent window is part of an ongoing course."""
    if therapy.resource_type == "MedicationAdministration" and therapy.status == "completed":
        last = therapy.end or therapy.start
        return last is not None and 0 <= (today - last).days <= recent_days
    return therapy.status in _CURRENT_STATUS and (therapy.end is None or therapy.end >= today)
