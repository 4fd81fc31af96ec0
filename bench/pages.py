"""What a patient page costs: the page's model per hook call in an evaluator (CPU, with and
without ``page``), storing it (wall time: a file written and fsynced), and drawing it when a
clinician opens the link (wall time).

    python bench/pages.py [--variants 500] [--calls 20]

The hook calls are cold (another patient each call, no cache), timed with ``time.process_time``
as ``bench/hook_cpu.py`` does; figures are medians, printed as ``name value unit``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fhir_resist.catalogue import load_catalogue
from fhir_resist.cdshooks import evaluators, pages
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.page_store import PageStore

if not __package__:  # run as a script (python bench/pages.py): the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hooks import hook_bodies

SERVICE = "fhir-resist-patient-view"


def _median_ms(run: Callable[[], object], times: int, clock: Callable[[], float]) -> float:
    spent = []
    for _ in range(times):
        started = clock()
        run()
        spent.append(clock() - started)
    return 1000 * statistics.median(spent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    evaluators._catalogue = load_catalogue()
    evaluators._cache = AssessmentCache(0)
    bodies = [hook_bodies(args.variants, seed)["patient-view"] for seed in range(1, 5)]
    for page in (False, True, False, True):  # warm both paths before timing either
        evaluators.evaluate(SERVICE, bodies[0], page)
    for page in (False, True):
        calls = [functools.partial(evaluators.evaluate, SERVICE, body, page) for body in bodies]
        cpu = [_median_ms(call, args.calls, time.process_time) for call in calls]
        print(f"hook_cpu_page_{str(page).lower()} {statistics.median(cpu):.2f} ms")
    answer = evaluators.evaluate(SERVICE, bodies[0], True)
    assert isinstance(answer, evaluators.Evaluated)
    assert answer.page is not None
    model = answer.page
    with tempfile.TemporaryDirectory() as directory:
        store = PageStore(Path(directory) / "pages", ttl=3600, most=10_000)
        print(f"page_store {_median_ms(lambda: store.put(model), args.calls, time.perf_counter):.2f} ms")
        print(f"page_prune_{args.calls * 2}_files {_median_ms(store.prune, 5, time.perf_counter):.2f} ms")
    pages.render(model).result()  # the first draw imports matplotlib
    draw = _median_ms(lambda: pages.render(model).result(), 5, time.perf_counter)
    print(f"page_render {draw:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
