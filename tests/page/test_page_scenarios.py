"""The patient page of every shared scenario, read back from its HTML: the alerts the scenario
expects, the timeline's bars, samples and lines, its links and its footer."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.api import evaluate, read_context
from fhir_resist.domain import Call, Kind, PatientContext
from fhir_resist.engine.longitudinal import sample_date
from fhir_resist.engine.model import Assessment
from fhir_resist.page.build import build_page
from fhir_resist.page.html import render_html
from tests.conftest import SCENARIOS, load_json
from tests.page.parsed import Element, parse

CASES = sorted(p.name.removesuffix(".expect.json") for p in SCENARIOS.glob("*.expect.json"))
EVIDENCE_HOSTS = ("https://pubmed.ncbi.nlm.nih.gov/", "https://doi.org/")


def scenario_page(case: str, catalogue: Catalogue) -> tuple[dict[str, Any], Assessment, PatientContext, str]:
    spec = load_json(SCENARIOS / f"{case}.expect.json")
    bundle = load_json(SCENARIOS / f"{case}.json")
    at = datetime.fromisoformat(spec["at"].replace("Z", "+00:00")) if "at" in spec else None
    assessment = evaluate([bundle], catalogue=catalogue, at=at)
    context = read_context([bundle], catalogue=catalogue)
    return spec["expect"], assessment, context, render_html(build_page(assessment, context))


def _alerts(doc: Element) -> list[Element]:
    return [a for a in doc.find("article", "alert") if "uncertain" not in a.classes]


@pytest.mark.parametrize("case", CASES)
def test_alerts_are_the_expected_ones(case: str, catalogue: Catalogue) -> None:
    expect, assessment, _context, html = scenario_page(case, catalogue)
    alerts = _alerts(parse(html))
    assert len(alerts) == len(assessment.issues)
    if expect.get("no_issues"):
        assert alerts == []
    for wanted in expect.get("issues", []):
        matching = [
            a
            for a in alerts
            if wanted["med"] in a.one("dd", "source").text
            and all(o in a.one("dd", "source").text for o in wanted["obs"])
        ]
        assert matching, f"no alert for {wanted['med']} x {wanted['obs']}"
        alert = matching[0]
        if "severity" in wanted:
            assert any(f"severity-{s}" in alert.classes for s in wanted["severity"])
        if "mechanism" in wanted:
            assert alert.one("dd", "mechanism").text == wanted["mechanism"]
        if "timing" in wanted:
            assert alert.one("dd", "timing").text.startswith(wanted["timing"] + ":")
    for obs in expect.get("no_issue_with_obs", []):
        assert not [a for a in alerts if obs in a.one("dd", "source").text.split("; ")[1].split(", ")]
    for alert in alerts:  # every alert says drug, finding, mechanism, timing, evidence and severity
        assert alert.one("span", "drug").text and alert.one("span", "finding").text
        assert alert.one("dd", "evidence").text.startswith("level ")
        assert alert.one("span", "badge").text.lower() in ("high", "moderate", "low")


def _expected_samples(context: PatientContext) -> int:
    """Dated results' specimens (or reports, or dates), each once."""
    keys = set()
    for alt in context.alterations:
        when, _ = sample_date(alt, context)
        if when is not None and alt.kind not in (Kind.MSI, Kind.TMB):
            keys.add(alt.specimen or alt.report or when.isoformat())
    return len(keys)


@pytest.mark.parametrize("case", CASES)
def test_timeline_marks(case: str, catalogue: Catalogue) -> None:
    _expect, assessment, context, html = scenario_page(case, catalogue)
    doc = parse(html)
    started = [t for t in context.therapies if t.start is not None and not t.proposed]
    samples = _expected_samples(context)
    if not started and not samples:
        assert doc.find("svg") == []
        assert "No dated therapy or sample" in doc.one("section").text or "No dated" in html
        return
    (svg,) = doc.find("svg")
    assert len(svg.find("g", id_prefix="therapy-")) == len(started)
    assert len(svg.find("g", id_prefix="sample-")) == samples
    assert len(doc.find("tr", "sample")) == samples
    seen = {
        a.label
        for a in context.alterations
        if a.call is Call.PRESENT and a.kind not in (Kind.MSI, Kind.TMB) and sample_date(a, context)[0]
    }
    assert len(svg.find("g", id_prefix="vaf-")) == len(seen)  # one line per alteration seen
    for issue in assessment.issues:  # an acquired allele is marked where it appears
        if issue.timing.value == "acquired":
            assert svg.find("g", id_prefix="appears-"), "the acquired allele's appearance is not marked"
    fractions = [s for s in context.specimens if s.tumour_fraction is not None and s.collected]
    assert bool(svg.find("g", id_prefix="tumour-fraction")) == bool(fractions)


@pytest.mark.parametrize("case", CASES)
def test_self_contained_links_and_footer(case: str, catalogue: Catalogue) -> None:
    _expect, assessment, _context, html = scenario_page(case, catalogue)
    doc = parse(html)
    elements = doc.walk()
    assert not [e for e in elements if e.tag in ("script", "link", "img", "iframe", "object", "embed")]
    assert not [e for e in elements if "src" in e.attrs]
    for e in elements:  # SVG references stay inside the document
        for name in ("xlink:href", "href"):
            if name in e.attrs and e.tag != "a":
                assert e.attrs[name].startswith("#"), e.attrs
    hrefs = [a.attrs["href"] for a in doc.find("a")]
    assert all(h.startswith(EVIDENCE_HOSTS) for h in hrefs), hrefs
    assert not re.search(r"url\((?!#)|@import", html)  # only the figure's own clip paths and hatches
    refs_with_pmid = [r for i in assessment.issues for r in i.finding.rule.evidence.references if r.pmid]
    assert len({h for h in hrefs if "pubmed" in h}) == len({r.pmid for r in refs_with_pmid})
    footer = doc.one("footer")
    assert footer.find("span")[0].text == assessment.catalogue_version
    assert footer.one("time").attrs["datetime"] == assessment.at.isoformat()
