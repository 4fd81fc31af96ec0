"""The page's parts: patient data escaped (HTML and figure), an allele that clears, a record with
nothing dated, the offers and their conditions."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from fhir_resist import Catalogue
from fhir_resist.api import evaluate, read_context
from fhir_resist.domain import Call, SpecimenType
from fhir_resist.engine.longitudinal import History, Sample
from fhir_resist.page.build import build_page
from fhir_resist.page.figure import timeline_svg
from fhir_resist.page.html import render_html
from fhir_resist.page.model import Bar, Measure, SamplePoint, Series, Timeline
from fhir_resist.page.timeline import OTHER_LINES, _drawn, _series
from tests.conftest import SCENARIOS, load_json
from tests.page.parsed import parse

AT = datetime(2026, 9, 1, 9, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> $\\frac{1}{0}$ & <img src=http://evil.example/x>'


def _page_of(bundle: dict[str, Any], catalogue: Catalogue) -> str:
    assessment = evaluate([bundle], catalogue=catalogue, at=AT)
    return render_html(build_page(assessment, read_context([bundle], catalogue=catalogue)))


def _resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == rid)
    return found


def test_patient_data_is_escaped_in_the_page_and_the_figure(catalogue: Catalogue) -> None:
    bundle = copy.deepcopy(load_json(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json"))
    therapy = _resource(bundle, "ms-cetux")
    therapy["medicationCodeableConcept"]["text"] = HOSTILE
    html = _page_of(bundle, catalogue)
    doc = parse(html)
    assert not [e for e in doc.walk() if e.tag in ("script", "img")]
    assert "<script>" not in html and "&lt;script&gt;" in html
    (svg,) = doc.find("svg")
    assert "$\\frac" in svg.text  # a dollar sign is text, never mathtext


def test_an_allele_that_clears_is_marked() -> None:
    def sample(day: date, call: Call, vaf: float | None, fraction: float | None) -> Sample:
        return Sample(day, "specimen", call, vaf, SpecimenType.PLASMA, fraction, f"Observation/{day}", 0.05)

    found = History(
        (
            sample(date(2026, 1, 1), Call.ABSENT, None, 0.2),
            sample(date(2026, 3, 1), Call.PRESENT, 0.12, 0.2),
            sample(date(2026, 5, 1), Call.ABSENT, None, 0.01),  # too little tumour DNA: not evidence
            sample(date(2026, 7, 1), Call.ABSENT, None, 0.2),
        )
    )
    series = _series("EGFR p.T790M", found, resistance=True)
    assert series is not None
    assert [(e.when, e.kind) for e in series.events] == [
        (date(2026, 3, 1), "appears"),
        (date(2026, 7, 1), "clears"),
    ]
    assert [m.present for m in series.measures] == [False, True, False, False]
    timeline = Timeline(
        bars=(Bar("osimertinib", date(2026, 1, 15), None, "active"),),
        samples=tuple(SamplePoint(s.when, s.source, "plasma", 0.2) for s in found.samples if s.when),
        series=(series,),
        undated=(),
        at=date(2026, 9, 1),
    )
    svg = parse(timeline_svg(timeline))
    assert len(svg.find("g", id_prefix="appears-")) == 1
    assert len(svg.find("g", id_prefix="clears-")) == 1
    assert len(svg.find("g", id_prefix="sample-")) == 4
    assert svg.find("g", id_prefix="tumour-fraction")
    assert "EGFR p.T790M clears" in svg.text


def test_a_series_never_seen_is_not_drawn() -> None:
    found = History((Sample(date(2026, 1, 1), "x", Call.ABSENT, None, SpecimenType.TISSUE, None, "o", 0.05),))
    assert _series("KRAS p.G12D", found, resistance=False) is None


def test_a_record_with_nothing_dated_has_no_figure(catalogue: Catalogue) -> None:
    bundle = copy.deepcopy(load_json(SCENARIOS / "crc-kras-g12v-no-therapy.json"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        resource.pop("effectiveDateTime", None)
        resource.pop("issued", None)
        resource.pop("collection", None)
    doc = parse(_page_of(bundle, catalogue))
    assert doc.find("svg") == []
    (section,) = [s for s in doc.find("section") if s.attrs.get("id") == "timeline"]
    assert "No dated therapy or sample" in section.text
    assert "Not drawn (no date)" in section.text


def test_conditional_and_offered_options_say_their_conditions(catalogue: Catalogue) -> None:
    bundle = load_json(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json")
    doc = parse(_page_of(bundle, catalogue))
    options = doc.find("li", "option")
    conditional = [o for o in options if "conditional" in o.classes]
    assert conditional
    assert all(o.one("span", "conditions").text.startswith("only if:") for o in conditional)


def test_the_figure_is_the_same_for_the_same_timeline() -> None:
    timeline = Timeline(
        bars=(Bar("erlotinib", date(2025, 6, 1), date(2026, 2, 1), "completed"),),
        samples=(SamplePoint(date(2025, 5, 1), "Specimen/a", "tissue", None),),
        series=(Series("EGFR p.L858R", (Measure(date(2025, 5, 1), True, 0.3),), False),),
        undated=(),
        at=date(2026, 9, 1),
    )
    assert timeline_svg(timeline) == timeline_svg(timeline)
    assert timeline_svg(timeline).startswith("<svg")


def test_a_large_panel_draws_its_resistance_lines_and_the_six_highest_others_and_names_the_rest() -> None:
    def line(label: str, vaf: float, *, resistance: bool = False) -> Series:
        return Series(label, (Measure(date(2026, 1, 1), True, vaf),), resistance)

    others = [line(f"GENE{n:02d} p.X{n}Y", vaf=n / 100) for n in range(1, 21)]
    resistance = [line("KRAS p.G12D", 0.01, resistance=True), line("EGFR p.S492R", 0.02, resistance=True)]
    drawn, not_drawn = _drawn([*others, *resistance])
    assert [s.label for s in drawn] == [
        "EGFR p.S492R",
        "KRAS p.G12D",
        *[f"GENE{n:02d} p.X{n}Y" for n in range(15, 21)],
    ]
    assert not_drawn == tuple(f"GENE{n:02d} p.X{n}Y" for n in range(1, 15))
    assert len(drawn) == 2 + OTHER_LINES
    few, none_left = _drawn(others[:3])
    assert len(few) == 3 and none_left == ()


def test_the_page_names_the_alterations_not_drawn(catalogue: Catalogue) -> None:
    bundle = copy.deepcopy(load_json(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json"))
    base = next(e for e in bundle["entry"] if e["resource"]["id"] == "v-egfr-base")
    for n in range(OTHER_LINES + 2):  # TP53 passengers, which no rule reads
        extra = copy.deepcopy(base)
        extra["resource"]["id"] = f"v-tp53-{n}"
        extra["resource"]["valueCodeableConcept"] = {
            "coding": [{"system": "http://loinc.org", "code": "LA9633-4", "display": "Present"}]
        }
        extra["fullUrl"] = base["fullUrl"].replace("v-egfr-base", f"v-tp53-{n}")
        for component in extra["resource"]["component"]:
            for coding in component.get("valueCodeableConcept", {}).get("coding", []):
                if coding["code"] == "HGNC:3236":
                    coding.update(code="HGNC:11998", display="TP53")
                elif coding["code"] == "NP_005219.2:p.Ser492Arg":
                    coding["code"] = f"NP_000537.3:p.Arg{100 + n}Cys"
        bundle["entry"].append(extra)
    doc = parse(_page_of(bundle, catalogue))
    (note,) = [p for p in doc.find("p") if "not-drawn" in p.attrs.get("class", "")]
    assert "Also found, not drawn (2): TP53" in note.text
