"""What a drawn Plotly figure's labels occupy, read from the browser's SVG, and the checks on it.

:data:`COLLECT` runs in the page (``page.evaluate``) and returns, for every Plotly figure, the quadrilateral
each label covers on screen (its ``getBBox`` through ``getScreenCTM``, so a rotated tick label keeps its
slant), the figure's box and each subplot's plot area. :func:`problems` reads that as plain data: two
labels that overlap or run together, a label outside its figure, a colour bar, legend, title or tick label
over a plot area, a marker or text cut by the plot area it is clipped to. The checks know nothing of the
browser, so a test can feed them a layout that is wrong on purpose.
"""

from __future__ import annotations

import numpy as np

#: Overhangs smaller than this (px) are antialiasing and font metrics, not a defect.
TOLERANCE = 1.5
#: Two labels closer than this (px) read as one ("x10x11"): about a word space at the figures' font sizes.
MIN_GAP = 3.0

#: Kinds of label; no two labels may overlap or run together, whatever their kinds.
LABELS = ("title", "colorbar", "legend", "annotation", "tick", "axis title", "text", "slider", "buttons")
#: Kinds that must also stay off every plot area (annotations and trace text may sit inside one on purpose).
OFF_PLOT = ("title", "colorbar", "legend", "tick", "axis title", "slider", "buttons")

#: Runs in the page: ``[{figure, box, plots: {subplot: quad}, items: [{kind, text, trace, quad, clip}]}]``.
COLLECT = """() => {
    const visible = e => {
        for (let n = e; n && n.nodeType === 1; n = n.parentNode) {
            const s = getComputedStyle(n);
            if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
        }
        return true;
    };
    const quad = e => {
        const b = e.getBBox(), m = e.getScreenCTM();
        if (!m || b.width * b.height === 0) return null;
        return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
            .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
    };
    const rect = r => [[r.left, r.top], [r.right, r.top], [r.right, r.bottom], [r.left, r.bottom]];
    const union = quads => {  // the upright box around several quadrilaterals
        const xs = quads.flat().map(p => p[0]), ys = quads.flat().map(p => p[1]);
        return quads.length ? rect({left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs),
                                    bottom: Math.max(...ys)}) : null;
    };
    // a colour bar is what it draws (bar, ticks, title), without its transparent padded background
    const drawn = e => e.matches('g.colorbar')
        ? union(Array.from(e.children).filter(c => !c.matches('rect.cbbg')).map(quad).filter(Boolean))
        : quad(e);
    const traceOf = e => {  // the full trace an element draws, if any
        const g = e.closest('g.trace');
        const cd = g && g.__data__;
        return (cd && cd[0] && cd[0].trace) || null;
    };
    const clipOf = trace =>  // the subplot whose plot area clips the trace's drawing
        trace && trace.cliponaxis !== false && trace.xaxis ? trace.xaxis + trace.yaxis : null;
    const kinds = [
        ['title', '.infolayer .g-gtitle text'],
        ['colorbar', '.infolayer g.colorbar'],
        ['legend', '.infolayer g.legend g.scrollbox'],  // its entries, not the padding around them
        ['annotation', '.infolayer g.annotation'],
        ['tick', 'g[class*="axislayer"] > g[class$="tick"] > text'],  // every axis: xtick, x2tick, y3tick...
        ['axis title', ['x', 'y'].map(a => `.infolayer g[class^="g-${a}"][class$="title"] text`).join(', ')],
        ['text', 'g.textpoint text, g.textpoint > text, g.heatmap-label text, text.bartext'],
        ['slider', 'g.slider-label-group text.slider-label, g.slider-group > text.slider-label'],
        ['buttons', 'g.updatemenu-container'],
        ['marker', 'g.trace.scatter g.points path.point'],
    ];
    return Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd, index) => {
        const plots = {};
        gd.querySelectorAll('.draglayer > g > rect.nsewdrag').forEach(r => {
            plots[r.parentNode.getAttribute('class').split(' ')[0]] = rect(r.getBoundingClientRect());
        });
        const items = [];
        for (const [kind, selector] of kinds) {
            gd.querySelectorAll(selector).forEach(e => {
                if (kind === 'tick' && e.closest('g.colorbar')) return;  // a colour bar is one box
                const text = kind === 'marker' ? '' : (e.textContent || '').trim();
                if (!text && !['colorbar', 'legend', 'buttons', 'marker'].includes(kind)) return;
                const trace = traceOf(e);
                if ((kind === 'marker' && !clipOf(trace)) || !visible(e)) return;
                const q = drawn(e);
                if (q) items.push({kind, text: text.slice(0, 60), trace: trace ? String(trace.name || '') : '',
                                   quad: q, clip: clipOf(trace)});
            });
        }
        const title = gd.querySelector('.g-gtitle text');
        return {
            figure: (title && title.textContent) || `figure ${index + 1}`,
            box: rect(gd.querySelector('svg.main-svg').getBoundingClientRect()),
            plots,
            items,
        };
    });
}"""


def separation(a, b) -> float:
    """The gap (px) between two convex quadrilaterals along the axis that separates them best; negative
    when they overlap (then minus the depth of the overlap)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    gaps = []
    for quad in (a, b):
        for edge in np.roll(quad, -1, axis=0) - quad:
            axis = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = a @ axis, b @ axis
            gaps.append(max(pa.min(), pb.min()) - min(pa.max(), pb.max()))
    return float(max(gaps))


def overhang(inner, outer) -> float:
    """How far (px) the quadrilateral ``inner`` reaches beyond the axis-aligned box of ``outer``."""
    inner, outer = np.asarray(inner, float), np.asarray(outer, float)
    return float(max(0.0, *(outer.min(axis=0) - inner.min(axis=0)), *(inner.max(axis=0) - outer.max(axis=0))))


def _name(item: dict) -> str:
    what = f"{item['kind']} {item['text']!r}" if item["text"] else item["kind"]
    return f"{what} of {item['trace']!r}" if item.get("trace") else what


def _near_pairs(quads: list, reach: float) -> list[tuple[int, int]]:
    """Pairs of quadrilaterals whose axis-aligned boxes come within ``reach`` px (the candidates to test)."""
    if len(quads) < 2:
        return []
    q = np.asarray(quads, float)
    lo, hi = q.min(axis=1), q.max(axis=1)
    near = np.all((lo[:, None] - reach < hi[None]) & (lo[None] - reach < hi[:, None]), axis=2)
    i, j = np.nonzero(np.triu(near, k=1))
    return list(zip(i.tolist(), j.tolist()))


def figure_problems(figure: dict, tolerance: float = TOLERANCE, min_gap: float = MIN_GAP) -> list[str]:
    """Every defect of one figure (a :data:`COLLECT` entry), as sentences naming the labels involved."""
    found = []
    labels = [item for item in figure["items"] if item["kind"] in LABELS]
    for item in labels:
        if (out := overhang(item["quad"], figure["box"])) > tolerance:
            found.append(f"{_name(item)} leaves the figure by {out:.0f} px")
    for i, j in _near_pairs([item["quad"] for item in labels], min_gap):
        a, b = labels[i], labels[j]
        if (gap := separation(a["quad"], b["quad"])) < min_gap:
            how = f"overlaps {_name(b)} by {-gap:.0f} px" if gap < 0 else f"runs into {_name(b)} ({gap:.1f} px apart)"
            found.append(f"{_name(a)} {how}")
    for item in labels:
        depth = max((-separation(item["quad"], plot) for plot in figure["plots"].values()), default=0.0)
        if item["kind"] in OFF_PLOT and depth > tolerance:
            found.append(f"{_name(item)} covers a plot area by {depth:.0f} px")
    for item in figure["items"]:
        plot = figure["plots"].get(item["clip"]) if item["clip"] else None
        reaches_in = plot is not None and separation(item["quad"], plot) < 0  # wholly outside: not drawn, not cut
        if reaches_in and (cut := overhang(item["quad"], plot)) > tolerance:
            found.append(f"{_name(item)} is cut by its plot area's edge by {cut:.0f} px")
    return found


def problems(figures: list[dict], tolerance: float = TOLERANCE, min_gap: float = MIN_GAP) -> dict[str, list[str]]:
    """:func:`figure_problems` of every figure that has any, keyed by its position and title."""
    found = {}
    for i, figure in enumerate(figures):
        if issues := figure_problems(figure, tolerance, min_gap):
            found[f"{i}: {figure['figure'][:70]}"] = issues
    return found
