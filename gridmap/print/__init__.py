"""One print engine: sheets of maps and tables, as HTML for print and as PDF.

Every printed sheet of gridmap — grid sheets now, patrol route and home-visit sheets, coverage
reports later — is built the same way:

1. a :class:`Sheet` of :class:`Page` s, each with a title, an optional :class:`MapFigure` and
   :class:`Table` s (plain data, text in the sheet's language);
2. a :class:`MapFigure` of :class:`MapLayer` s — plain GeoDataFrames (EPSG:4326 as stored),
   a :class:`Style` or a function of a feature's attributes, a :class:`LabelRule`, legend
   entries — drawn as SVG in the area's UTM zone at a round, true scale, with scale bar,
   north arrow (true north) and labels that do not overlap; :class:`WorkspaceMap` is the
   standard map of a workspace in the web map's colours;
3. :func:`render_html` (one self-contained document a browser prints as it is) or
   :func:`render_pdf` (WeasyPrint; the Chinese font embedded) on A4 or A3, portrait or
   landscape: each map is drawn for the space the paper leaves it.

:func:`gridmap.print.grids.grid_sheet` builds the grid sheet of a workspace for a reader,
and :mod:`gridmap.print.jobs` runs it as a background job. This package never imports Flask.
"""

from gridmap.print.basemap import WorkspaceMap, workspace_layers
from gridmap.print.grids import grid_sheet
from gridmap.print.labels import LabelRule
from gridmap.print.mapfigure import LegendEntry, MapFigure, MapLayer, RenderedMap
from gridmap.print.paper import ORIENTATIONS, PAPERS, Paper
from gridmap.print.render import PrintCancelled, PrintUnavailableError, render_html, render_pdf
from gridmap.print.sheet import Column, Page, Sheet, Table
from gridmap.print.svg import Style

__all__ = [
    "ORIENTATIONS",
    "PAPERS",
    "Column",
    "LabelRule",
    "LegendEntry",
    "MapFigure",
    "MapLayer",
    "Page",
    "Paper",
    "PrintCancelled",
    "PrintUnavailableError",
    "RenderedMap",
    "Sheet",
    "Style",
    "Table",
    "WorkspaceMap",
    "grid_sheet",
    "render_html",
    "render_pdf",
    "workspace_layers",
]
