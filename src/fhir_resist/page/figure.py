"""The timeline drawn as inline SVG with matplotlib's SVG backend (text kept as text, no font or
image fetched, the same bytes for the same timeline).

Every mark carries an id the page's tests and readers can find: ``therapy-N`` (a bar),
``sample-N`` (a serial sample), ``vaf-N`` (an alteration's line), ``tumour-fraction``,
``appears-N`` / ``clears-N`` (a resistance allele's events). Lines differ by dash pattern and
marker as well as colour, so the figure reads in grey scale."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import StringIO
from typing import TYPE_CHECKING, Any

from fhir_resist.page.model import Series, Timeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# colour-blind-safe (Okabe-Ito) and told apart by dash and marker too
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_DASHES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_SAMPLE_MARKERS = {"tissue": "s", "plasma": "o", "unknown": "D"}
_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text as <text>, in the page's own fonts
    "svg.hashsalt": "fhir-resist",  # stable ids: the same timeline gives the same SVG
    "text.parse_math": False,  # '$' in a label is a dollar sign, never mathtext
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.grid": True,
    "grid.linestyle": ":",
    "grid.alpha": 0.5,
}
_WIDTH_IN = 7.0  # fits A4 and Letter portrait within 15 mm margins


def timeline_svg(timeline: Timeline) -> str:
    """The timeline as an ``<svg>`` element (no XML declaration or doctype), ready to inline."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    lanes = max(len(timeline.bars), 1) + 1
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        figure = Figure(figsize=(_WIDTH_IN, 1.2 + 0.32 * lanes + 2.6), layout="constrained")
        lanes_ax, vaf_ax = figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [0.32 * lanes + 0.4, 2.6]}
        )
        _draw_lanes(lanes_ax, timeline)
        _draw_vaf(vaf_ax, timeline)
        lo, hi = _span(timeline)
        vaf_ax.set_xlim(_num(lo), _num(hi))
        locator = AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
        vaf_ax.xaxis.set_major_locator(locator)
        vaf_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        out = StringIO()
        FigureCanvasSVG(figure).print_svg(out, metadata={"Date": None, "Creator": None})  # type: ignore[no-untyped-call]
    svg = out.getvalue()
    return svg[svg.index("<svg") :]


def _draw_lanes(ax: Axes, timeline: Timeline) -> None:
    """One lane per therapy line (a bar; hatched while ongoing), and the samples' lane."""
    labels = []
    for n, bar in enumerate(timeline.bars):
        end = bar.end or timeline.at
        width = max((end - bar.start).days, 1)
        drawn = ax.broken_barh(
            [(_num(bar.start), width)],
            (n - 0.35, 0.7),
            facecolors="#d9d9d9",
            edgecolors="#000000",
            hatch="//" if bar.end is None else None,
            linewidth=0.8,
        )
        drawn.set_gid(f"therapy-{n + 1}")
        labels.append(_short(bar.label) + (" (ongoing)" if bar.end is None else ""))
    row = len(timeline.bars)
    for n, sample in enumerate(timeline.samples):
        (point,) = ax.plot(
            [_num(sample.when)],
            [row],
            marker=_SAMPLE_MARKERS.get(sample.specimen_type, "D"),
            markersize=7,
            color="#000000",
            markerfacecolor="#ffffff" if sample.specimen_type == "plasma" else "#000000",
            linestyle="none",
        )
        point.set_gid(f"sample-{n + 1}")
    ax.axvline(_num(timeline.at), color="#000000", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(row + 1), [*labels, "Samples (■ tissue, ○ plasma)"])
    ax.set_ylim(row + 0.6, -0.6)
    ax.grid(axis="y", visible=False)
    ax.set_title("Therapy lines and serial samples", loc="left", fontsize=9)


def _draw_vaf(ax: Axes, timeline: Timeline) -> None:
    """Each alteration's VAF (absent: 0, hollow), resistance alleles' events, the tumour fraction."""
    for n, series in enumerate(timeline.series):
        _draw_series(ax, n, series)
    fractions = [(s.when, s.tumour_fraction) for s in timeline.samples if s.tumour_fraction is not None]
    if fractions:
        (line,) = ax.plot(
            [_num(w) for w, _ in fractions],
            [f for _, f in fractions],
            color="#555555",
            linestyle=(0, (1, 1)),
            marker="x",
            label="tumour fraction",
        )
        line.set_gid("tumour-fraction")
    ax.axvline(_num(timeline.at), color="#000000", linestyle="--", linewidth=0.8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("Variant allele fraction")
    ax.yaxis.set_major_formatter("{x:.0%}")
    if timeline.series or fractions:
        ax.legend(loc="upper left", fontsize=7, frameon=True)
    else:
        ax.text(0.5, 0.5, "no VAF reported", transform=ax.transAxes, ha="center", va="center")


def _draw_series(ax: Axes, n: int, series: Series) -> None:
    colour = _COLOURS[n % len(_COLOURS)]
    marker = _MARKERS[n % len(_MARKERS)]
    known = [(m.when, m.vaf) for m in series.measures if m.vaf is not None]
    label = _short(series.label) + (" (resistance)" if series.resistance else "")
    if len(known) < len(series.measures):
        label += " (VAF not reported)"
    (line,) = ax.plot(
        [_num(when) for when, _ in known],
        [vaf for _, vaf in known],
        color=colour,
        linestyle=_DASHES[n % len(_DASHES)],
        linewidth=2.0 if series.resistance else 1.2,
        marker=marker,
        markersize=6,
        label=label,
    )
    line.set_gid(f"vaf-{n + 1}")
    absent = [m for m in series.measures if not m.present]
    if absent:
        ax.plot(
            [_num(m.when) for m in absent],
            [0.0] * len(absent),
            marker=marker,
            markerfacecolor="#ffffff",
            color=colour,
            linestyle="none",
        )
    for k, event in enumerate(series.events):
        y = next((m.vaf for m in series.measures if m.when == event.when and m.vaf is not None), 0.0)
        text = ax.annotate(
            f"{_short(series.label, 24)} {event.kind}",
            (_num(event.when), y),
            xytext=(6, 14 if event.kind == "appears" else -16),
            textcoords="offset points",
            fontsize=7,
            arrowprops={"arrowstyle": "->", "color": "#000000", "linewidth": 0.8},
        )
        text.set_gid(f"{event.kind}-{n + 1}-{k + 1}")


def _span(timeline: Timeline) -> tuple[date, date]:
    dates = [timeline.at]
    dates += [b.start for b in timeline.bars] + [b.end for b in timeline.bars if b.end is not None]
    dates += [s.when for s in timeline.samples]
    lo, hi = min(dates), max(dates)
    pad = timedelta(days=max((hi - lo).days // 20, 7))
    return lo - pad, hi + pad


def _num(when: date) -> float:
    """A date as matplotlib's number for it (days since its epoch)."""
    from matplotlib.dates import date2num

    return float(date2num(when))  # type: ignore[no-untyped-call]


def _short(text: str, limit: int = 40) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
