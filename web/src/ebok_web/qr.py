"""QR codes drawn on the server as inline SVG (no script, no third party); segno escapes
what it writes, so the markup is ours. ``title`` is the code's text alternative."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(data: str, title: str) -> Markup:
    svg = segno.make(data, error="m").svg_inline(scale=5, title=title, svgclass="qr", omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))
