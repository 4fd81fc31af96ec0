"""The ``catalogue`` commands: validate the catalogue, list, count and show its rules, print its
JSON Schema, write it as a static site."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_OK
from fhir_resist.cli.options import catalogue_from
from fhir_resist.errors import InputError

if TYPE_CHECKING:  # the catalogue's models are imported by the commands that load it
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.catalogue.schema import Rule


def add_catalogue(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cat = commands.add_parser("catalogue", help="validate and browse the resistance catalogue")
    sub = cat.add_subparsers(dest="action", required=True)
    for name, helptext, run in (
        ("validate", "check schema, references and per-rule cases", _validate),
        ("list", "list the rules", _list),
        ("stats", "count rules by family, tumour, mechanism, level; cases, genes, drugs per family", _stats),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--json", action="store_true")
        if name == "stats":
            p.add_argument(
                "--markdown", action="store_true", help="print the coverage table of the catalogue README"
            )
        p.set_defaults(run=run)
    schema = sub.add_parser("schema", help="print the catalogue's JSON Schema")
    schema.set_defaults(run=_schema)
    show = sub.add_parser("show", help="show one rule")
    show.add_argument("rule_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)
    site = sub.add_parser(
        "site", help="write the catalogue as a static site (a page per rule, index, search)"
    )
    site.add_argument("out", metavar="OUT", help="directory to write the site into (made if missing)")
    site.set_defaults(run=_site)


def _validate(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.catalogue import default_path
    from fhir_resist.catalogue.cases import run_cases

    catalogue = catalogue_from(args)
    failures = run_cases(catalogue)
    where = args.catalogue or str(default_path())
    if failures:
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        print(f"fhir-resist: {len(failures)} rule case(s) failed in {where}", file=sys.stderr)
        return EXIT_INPUT
    rules = len(catalogue.rules)
    cases = sum(len(r.cases) for r in catalogue.rules)
    msg = {"valid": True, "version": catalogue.version, "rules": rules, "cases": cases}
    print(
        json.dumps(msg)
        if args.json
        else f"catalogue {catalogue.version}: {rules} rules, {cases} cases, all valid"
    )
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    import json

    catalogue = catalogue_from(args)
    rows = [_rule_row(catalogue, r) for r in catalogue.rules]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['id']:48} {row['effect']:16} {row['mechanism']:18} {row['level']}  {row['title']}")
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.catalogue.coverage import coverage, markdown_table

    catalogue = catalogue_from(args)
    families = coverage(catalogue)
    if args.markdown:
        print(markdown_table(families))
        return EXIT_OK
    stats: dict[str, Any] = _counts([_rule_row(catalogue, r) for r in catalogue.rules])
    stats["rules"]["cases"] = sum(f.cases for f in families)
    stats["family"] = {f.family: f.rules for f in families}
    if args.json:
        stats["families"] = {f.family: f.as_json() for f in families}
        print(json.dumps(stats, indent=2))
        return EXIT_OK
    print(
        "\n".join(
            f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            for group, counts in stats.items()
        )
    )
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    import json

    catalogue = catalogue_from(args)
    rule = catalogue.rule(args.rule_id)
    if rule is None:
        raise InputError(f"no rule '{args.rule_id}' in catalogue {catalogue.version}", where="catalogue show")
    data = rule.model_dump(mode="json", exclude_defaults=True)
    print(json.dumps(data, indent=2) if args.json else _yaml(data))
    return EXIT_OK


def _site(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fhir_resist.catalogue.site import INDEX, write_site

    catalogue = catalogue_from(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: not a directory", where="catalogue site OUT")
    try:
        written = write_site(catalogue, out)
    except OSError as exc:
        raise InputError(
            f"{out}: the site could not be written ({exc.strerror or exc})", where="catalogue site OUT"
        ) from None
    print(f"catalogue {catalogue.version}: {written} pages written to {out / INDEX}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.catalogue.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _rule_row(catalogue: Catalogue, rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "file": catalogue.rule_files.get(rule.id),
        "effect": rule.effect.value,
        "mechanism": rule.mechanism.value,
        "level": rule.evidence.level.value,
        "tumours": list(rule.tumours.include),
        "timing": [t.value for t in rule.timing],
        "genes": sorted({p.gene or p.kind for p in rule.alterations}),
    }


def _counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Rules by tumour, mechanism, level, effect and gene, after the total."""
    stats: dict[str, dict[str, int]] = {
        "rules": {"total": len(rows)},
        "tumour": {},
        "mechanism": {},
        "level": {},
        "effect": {},
        "gene": {},
    }
    for row in rows:
        for tumour in row["tumours"]:
            stats["tumour"][tumour] = stats["tumour"].get(tumour, 0) + 1
        for key in ("mechanism", "level", "effect"):
            stats[key][row[key]] = stats[key].get(row[key], 0) + 1
        for gene in row["genes"]:
            stats["gene"][gene] = stats["gene"].get(gene, 0) + 1
    return stats


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip()
