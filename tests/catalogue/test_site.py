"""The catalogue as a static site: a page per rule, the index, the search, links, determinism."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fhir_resist import Catalogue
from fhir_resist.catalogue.coverage import coverage
from fhir_resist.catalogue.schema import Reference
from fhir_resist.catalogue.site import INDEX, pages, rule_page, search_json, write_site
from fhir_resist.catalogue.site.views import reference_link, rule_view
from fhir_resist.cli import main

KRAS = "crc-antiegfr-kras-ext-ras"


class Page(HTMLParser):
    """What a page holds: its links, its scripts (inline or not), its text."""

    def __init__(self, html: bytes) -> None:
        super().__init__()
        self.links: list[str] = []
        self.script_sources: list[str] = []
        self.external: list[str] = []  # anything the page would fetch when shown
        self.data: list[str] = []
        self.feed(html.decode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "script" and "src" in found:
            self.script_sources.append(str(found["src"]))
        if tag in ("link", "img", "iframe", "object", "embed") or (tag == "script" and "src" in found):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.data).split())


@pytest.fixture(scope="module")
def site(catalogue: Catalogue) -> dict[str, bytes]:
    return pages(catalogue)


def test_one_page_per_rule_and_an_index(site: dict[str, bytes], catalogue: Catalogue) -> None:
    assert set(site) == {INDEX} | {rule_page(r.id) for r in catalogue.rules}


def test_a_rule_page_shows_the_rule(site: dict[str, bytes], catalogue: Catalogue) -> None:
    page = Page(site[rule_page(KRAS)])
    text = page.text
    rule = catalogue.rule(KRAS)
    assert rule is not None
    assert rule.title in text
    for words in (
        "Effect resistance",
        "Mechanism downstream",
        "Timing primary, acquired",
        "Evidence level A",
    ):
        assert words in text
    assert "KRAS codons 12, 13, 59, 61, 117, 146" in text
    assert "anti-EGFR monoclonal antibody" in text and "cetuximab, necitumumab, panitumumab" in text
    assert "Colorectal Adenocarcinoma (COADREAD)" in text
    assert "https://pubmed.ncbi.nlm.nih.gov/24024839/" in page.links
    assert rule.caveats[0].split()[0] in text and "Caveats" in text
    assert f"Cases ({len(rule.cases)})" in text
    assert all(" ".join(case.name.split()) in text for case in rule.cases)
    assert f"Resistance catalogue {catalogue.version}" in text
    assert page.external == [] and page.script_sources == []
    assert "../index.html" in page.links


def test_countermeasures_show_their_conditions_and_evidence(
    site: dict[str, bytes], catalogue: Catalogue
) -> None:
    rule = next(r for r in catalogue.rules if any(cm.condition for cm in r.countermeasures))
    cm = next(cm for cm in rule.countermeasures if cm.condition)
    text = Page(site[rule_page(rule.id)]).text
    assert cm.condition is not None and " ".join(cm.condition.split()) in text
    assert f"level {cm.evidence.level.value}" in text


def test_every_link_between_pages_resolves(site: dict[str, bytes]) -> None:
    for name, html in site.items():
        for link in Page(html).links:
            if link.startswith("https://"):
                continue
            target = (Path(name).parent / link.split("#")[0]).as_posix()
            resolved = re.sub(r"[^/]+/\.\./", "", target)
            assert resolved in site, (name, link)


def test_the_index_lists_rules_by_gene_drug_and_tumour(site: dict[str, bytes], catalogue: Catalogue) -> None:
    page = Page(site[INDEX])
    text = page.text
    for heading in ("By gene", "By drug", "By tumour", "All rules", "Coverage"):
        assert heading in text
    assert f"rules/{KRAS}.html" in page.links
    assert len([link for link in page.links if link == f"rules/{KRAS}.html"]) >= 4  # gene, drug, tumour, list
    html = site[INDEX].decode()
    by_gene = html[html.index('id="genes"') : html.index('id="drugs"')]
    assert "<dt>KRAS</dt>" in by_gene and f'href="rules/{KRAS}.html"' in by_gene
    by_drug = html[html.index('id="drugs"') : html.index('id="tumours"')]
    assert "<dt>panitumumab</dt>" in by_drug
    by_tumour = html[html.index('id="tumours"') : html.index('id="rules"')]
    assert "<dt>Colorectal Adenocarcinoma (COADREAD)</dt>" in by_tumour
    for family in coverage(catalogue):
        assert f"<td>{family.family}</td><td>{family.rules}</td><td>{family.cases}</td>" in html
    assert page.external == [] and page.script_sources == []


def test_the_search_index_is_inline_and_finds_by_gene_drug_and_tumour(
    site: dict[str, bytes], catalogue: Catalogue
) -> None:
    html = site[INDEX].decode()
    found = re.search(r'<script type="application/json" id="search-data">(.*?)</script>', html, re.S)
    assert found is not None
    entries = {e["id"]: e for e in json.loads(found.group(1))}
    assert set(entries) == {r.id for r in catalogue.rules}
    kras = entries[KRAS]
    assert kras["url"] == f"rules/{KRAS}.html" and kras["level"] == "A"
    for word in ("kras", "cetuximab", "panitumumab", "coadread", "colorectal", "downstream"):
        assert word in kras["text"]
    assert "fetch(" not in html and "XMLHttpRequest" not in html and "innerHTML" not in html


def test_the_search_index_cannot_close_its_script_element(catalogue: Catalogue) -> None:
    views = [rule_view(catalogue, catalogue.rules[0])]
    hostile = views[0].__class__(**{**views[0].__dict__, "title": "</script><script>alert(1)</script> & co"})
    text = search_json([hostile])
    assert "</" not in text and "<" not in text and "&" not in text
    assert json.loads(text)[0]["title"] == "</script><script>alert(1)</script> & co"


def test_rule_text_is_escaped_in_the_pages(catalogue: Catalogue, tmp_path: Path) -> None:
    rule = catalogue.rules[0]
    hostile = rule.model_copy(update={"title": "<img src=x onerror=alert(1)> & more"})
    changed = Catalogue(**{**catalogue.__dict__, "rules": (hostile, *catalogue.rules[1:])})
    built = pages(changed)
    page = built[rule_page(rule.id)].decode()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt; &amp; more" in page
    assert "<img" not in built[INDEX].decode()


def test_reference_links() -> None:
    assert reference_link(Reference(pmid="24024839")).url == "https://pubmed.ncbi.nlm.nih.gov/24024839/"
    doi = reference_link(Reference(doi="10.1200/JCO.2016.69.9296"))
    assert (
        doi.url == "https://doi.org/10.1200/JCO.2016.69.9296" and doi.label == "doi:10.1200/JCO.2016.69.9296"
    )
    assert reference_link(Reference(trial="PRIME", note="n")) == reference_link(
        Reference(trial="PRIME", note="n")
    )
    assert reference_link(Reference(trial="PRIME")).url is None


def test_the_same_catalogue_gives_the_same_bytes(site: dict[str, bytes], catalogue: Catalogue) -> None:
    assert pages(catalogue) == site
    assert list(pages(catalogue)) == list(site)


def test_the_command_writes_the_site_and_removes_pages_of_rules_gone(
    tmp_path: Path, site: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    (out / "rules").mkdir(parents=True)
    (out / "rules" / "a-deleted-rule.html").write_text("old")
    (out / "rules" / "notes.txt").write_text("kept")
    assert main(["catalogue", "site", str(out)]) == 0
    assert f"{len(site)} pages written" in capsys.readouterr().out
    written = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.html")}
    assert written == site
    assert (out / "rules" / "notes.txt").read_text() == "kept"


def test_the_command_refuses_a_file_as_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["catalogue", "site", str(target)]) == 2
    assert f"{target}: not a directory" in capsys.readouterr().err


def test_write_site_makes_the_directory(tmp_path: Path, catalogue: Catalogue) -> None:
    assert write_site(catalogue, tmp_path / "a" / "b") == len(catalogue.rules) + 1
    assert (tmp_path / "a" / "b" / INDEX).is_file()
