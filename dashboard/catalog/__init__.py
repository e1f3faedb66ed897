"""What the pages show: each page's sections and panels (:mod:`.sections`), the computations behind them
(:mod:`.compute`, :mod:`.memory`, :mod:`.measure`), the verdicts and captions (:mod:`.verdict`,
:mod:`.panels`, :mod:`.depth`). Pure functions of a :class:`~dashboard.config.RunConfig`: no Streamlit.

>>> from dashboard.catalog import page_panels
>>> from dashboard.config import RunConfig
>>> panels = page_panels("gradient_flow", RunConfig(T=20))
>>> panels["flow_matrix"].figure.data[0].type
'heatmap'
"""

from dashboard.catalog.sections import PAGES, PLAIN, SECTIONS, all_panels, page_panels, panel

__all__ = ["PAGES", "PLAIN", "SECTIONS", "all_panels", "page_panels", "panel"]
