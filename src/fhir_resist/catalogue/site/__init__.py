"""The catalogue as a static site: one page per rule, an index by gene, drug and tumour with an
inline search, and the coverage table (``fhir-resist catalogue site OUT/``, ``serve``'s
``/catalogue/``).

Pure: ``pages`` maps each page's path under the site (``index.html``, ``rules/<id>.html``) to
its bytes; the same catalogue gives the same bytes. Pages link to each other relatively and fetch
nothing (styles, the search index and its script are inline), so the site works from
``file://`` and under any prefix. Templates (Jinja2, autoescaped) are package data beside this
module; ``views`` turns the catalogue into what they show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from fhir_resist.catalogue.index import Catalogue
    from fhir_resist.catalogue.site.views import RuleView

INDEX = "index.html"
RULES = "rules"


def rule_page(rule_id: str) -> str:
    """Where a rule's page is, under the site."""
    return f"{RULES}/{rule_id}.html"


def pages(catalogue: Catalogue) -> dict[str, bytes]:
    """Every page of the site, by its path under the site, in a stable order."""
    from fhir_resist.catalogue.coverage import coverage
    from fhir_resist.catalogue.site.views import rule_view

    env = _environment()
    views = [rule_view(catalogue, rule) for rule in sorted(catalogue.rules, key=lambda r: r.id)]
    common: dict[str, Any] = {"version": catalogue.version}
    out = {
        INDEX: env.get_template("index.html.j2")
        .render(
            root="",
            rules=views,
            by_gene=_grouped((gene, v) for v in views for gene in v.genes),
            by_drug=_grouped((drug, v) for v in views for drug in v.covered_drugs),
            by_tumour=_grouped((f"{name} ({code})", v) for v in views for code, name in v.tumours),
            coverage=coverage(catalogue),
            search_json=search_json(views),
            **common,
        )
        .encode()
    }
    template = env.get_template("rule.html.j2")
    for view in views:
        out[rule_page(view.id)] = template.render(root="../", rule=view, **common).encode()
    return out


def write_site(catalogue: Catalogue, directory: Path) -> int:
    """Writes the site into ``directory`` (made if missing); a rule page there that the catalogue
    no longer has is removed. Returns the number of pages written."""
    built = pages(catalogue)
    (directory / RULES).mkdir(parents=True, exist_ok=True)
    for stale in (directory / RULES).glob("*.html"):
        if f"{RULES}/{stale.name}" not in built:
            stale.unlink()
    for name, content in built.items():
        (directory / name).write_bytes(content)
    return len(built)


def search_json(views: list[RuleView]) -> str:
    """The search index: per rule its page, title, effect, level and the words it is found by
    (lower case), as JSON safe inside a ``<script>`` element (``<``, ``>``, ``&`` escaped)."""
    entries = [
        {
            "id": v.id,
            "url": rule_page(v.id),
            "title": v.title,
            "effect": v.effect,
            "level": v.level,
            "text": " ".join(
                (
                    v.id,
                    v.title,
                    *v.genes,
                    *v.alterations,
                    *v.covered_drugs,
                    *v.classes,
                    *(f"{code} {name}" for code, name in v.tumours),
                    v.mechanism,
                    v.effect,
                )
            ).lower(),
        }
        for v in views
    ]
    text = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _grouped(pairs: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """(name, view) pairs as [(name, [(rule id, title), ...]), ...], names sorted case-blind."""
    groups: dict[str, dict[str, str]] = {}
    for name, view in pairs:
        groups.setdefault(name, {})[view.id] = view.title
    return [(name, sorted(groups[name].items())) for name in sorted(groups, key=lambda n: (n.lower(), n))]


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("fhir_resist.catalogue.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
