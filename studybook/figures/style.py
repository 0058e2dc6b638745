"""The one visual style every figure shares.

- Width 4.5 in. A reading system showing the figure 390 CSS px wide scales 1 in to about 87 px,
  so a 10 pt label is drawn at about 12 px, the size of 9 pt text: ``MIN_FONT_PT`` is enforced.
- One palette whose colours differ in lightness (about L* 25, 55, 75 and 90) and come with a hatch,
  a marker and a line style each, so series stay apart in grayscale print, on e-ink and for
  colour-blind readers.
- An opaque off-white background with a thin grey border, so a figure stays legible on a dark
  (night-mode) page instead of drawing dark ink on a dark screen.
- SVG only: a `Figure` with `FigureCanvasSVG`, never pyplot; text is converted to paths in the
  book's fonts (Noto Sans; Noto Sans CJK SC for zh-CN), and symbols Noto Sans lacks (−, √, →, ≈)
  come from Noto Sans Math.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when a cached one is read
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FIG_WIDTH = 4.5                 # inches
READER_WIDTH_PX = 390           # the phone-width column the figure must stay legible in
MIN_FONT_PT = 10.0              # 10 pt at 4.5 in shown 390 px wide ≈ 9 pt at 96 px/in

FONT_SMALL = 10.0
FONT = 10.5
FONT_TITLE = 11.0

INK = "#1A1A1A"                 # text, axes, outlines
MUTED = "#6B6B6B"               # secondary lines, grid text
GRID = "#D9D9D9"
BACKGROUND = "#FBFAF6"          # opaque, slightly warm white
BORDER = "#B4B4B4"
PANEL = "#FFFFFF"               # box fill in diagrams
BLOCKED = "#E6E6E6"             # masked / dropped / frozen regions
HEATMAP = "cividis"             # lightness rises monotonically: reads in grayscale


@dataclass(frozen=True)
class Series:
    color: str
    hatch: str
    marker: str
    linestyle: Any
    light: bool                 # True when dark text must be used on it
    width: float                # line width: the light colours get thicker lines


# Dark navy, vermilion, sky blue, pale yellow: CIE L* ≈ 25, 55, 72, 90.
SERIES: tuple[Series, ...] = (
    Series("#1F3B73", "", "o", "-", False, 2.0),
    Series("#C4500F", "///", "s", (0, (5, 2)), False, 2.0),
    Series("#6CB4E4", "\\\\\\", "^", (0, (1, 1.2)), True, 2.6),
    Series("#F1DE6C", "xx", "D", (0, (6, 2, 1.5, 2)), True, 2.6),
)
ACCENT = SERIES[1].color


def series(i: int) -> Series:
    return SERIES[i % len(SERIES)]


def rc(families: Sequence[str]) -> dict[str, Any]:
    """rcParams for one figure; used inside `matplotlib.rc_context` only."""
    return {
        "font.family": list(families),
        "font.size": FONT,
        "axes.titlesize": FONT_TITLE,
        "axes.labelsize": FONT,
        "xtick.labelsize": FONT_SMALL,
        "ytick.labelsize": FONT_SMALL,
        "legend.fontsize": FONT_SMALL,
        "legend.frameon": False,
        "axes.unicode_minus": True,
        "mathtext.fontset": "custom",
        "mathtext.rm": families[0],
        "mathtext.it": f"{families[0]}:italic",
        "mathtext.bf": f"{families[0]}:bold",
        "text.color": INK,
        "axes.edgecolor": INK,
        "axes.labelcolor": INK,
        "axes.linewidth": 0.8,
        "axes.facecolor": PANEL,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlepad": 5.0,
        "xtick.color": INK,
        "ytick.color": INK,
        "lines.linewidth": 1.8,
        "lines.markersize": 5.5,
        "hatch.linewidth": 0.8,
        "hatch.color": INK,
        "patch.linewidth": 0.8,
        "grid.color": GRID,
        "grid.linewidth": 0.6,
        "figure.facecolor": BACKGROUND,
        "savefig.facecolor": BACKGROUND,
        "svg.fonttype": "path",
        "svg.hashsalt": "studybook-figures",
        "svg.image_inline": True,
        "image.interpolation": "nearest",
        "path.simplify": True,
    }


def new_figure(height: float) -> Figure:
    """A figure at the book's width with the opaque background and the border."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(FIG_WIDTH, height), facecolor=BACKGROUND)
    FigureCanvasSVG(fig)
    fig.patches.append(Rectangle((0.0015, 0.0015), 0.997, 0.997, transform=fig.transFigure, fill=False,
                                 edgecolor=BORDER, linewidth=0.8, zorder=-10))
    return fig


def check_text_sizes(fig: Figure) -> None:
    """Fail loudly when any visible text is smaller than the phone-width minimum."""
    from matplotlib.text import Text

    for artist in fig.findobj(Text):
        if artist.get_visible() and artist.get_text().strip() and float(artist.get_fontsize()) < MIN_FONT_PT - 1e-6:
            raise ValueError(f"text {artist.get_text()!r} is {artist.get_fontsize()} pt, below {MIN_FONT_PT} pt")


# -- diagram helpers --------------------------------------------------------------------------------

def diagram_axes(fig: Figure, xlim: tuple[float, float], ylim: tuple[float, float],
                 rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> Axes:
    """An axes without ticks or frame, in data units chosen by the kind (x to the right, y up)."""
    ax = fig.add_axes(rect)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    return ax


def box(ax: Axes, center: tuple[float, float], width: float, height: float, text: str = "", *,
        fill: str = PANEL, hatch: str = "", dashed: bool = False, bold: bool = False,
        fontsize: float = FONT, text_color: str = INK, round_: bool = True, zorder: float = 2) -> FancyBboxPatch:
    from matplotlib.patches import FancyBboxPatch

    x, y = center
    style = "round,pad=0,rounding_size=0.12" if round_ else "square,pad=0"
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle=style, facecolor=fill,
                           edgecolor=INK, linewidth=1.0, hatch=hatch or None,
                           linestyle=(0, (4, 2)) if dashed else "-", zorder=zorder)
    ax.add_patch(patch)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=text_color,
                fontweight="bold" if bold else "normal", zorder=zorder + 1, linespacing=1.15)
    return patch


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], *, color: str = INK,
          width: float = 1.1, style: Any = "-", rad: float = 0.0, zorder: float = 1.5,
          head: bool = True) -> FancyArrowPatch:
    from matplotlib.patches import FancyArrowPatch

    patch = FancyArrowPatch(start, end, arrowstyle="-|>,head_length=5,head_width=3" if head else "-",
                            mutation_scale=1.0, color=color, linewidth=width, linestyle=style,
                            connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0, zorder=zorder)
    ax.add_patch(patch)
    return patch


def label_bars(ax: Axes, bars: Any, texts: Sequence[str], *, inside_min: float | None = None) -> None:
    """Write each bar's value just above it."""
    for bar, text in zip(bars, texts, strict=True):
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=FONT_SMALL)
