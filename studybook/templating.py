"""The Jinja2 environment shared by the renderers: presentation lives in templates/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from pygments.formatters import HtmlFormatter


def environment(templates: Path, **filters: Any) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    env.globals["pygments_css"] = pygments_css
    return env


def pygments_css(style: str, scope: str) -> str:
    """Token colours for code highlighted with CSS classes (no inline colours anywhere)."""
    return HtmlFormatter(style=style).get_style_defs(scope)
