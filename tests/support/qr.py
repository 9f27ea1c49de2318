"""Reading QR codes back the way a phone does: render the document (a PDF page, an SVG) to
pixels with PyMuPDF and decode every code in it with zxing-cpp."""

from __future__ import annotations

import pymupdf
import zxingcpp
from PIL import Image

DPI = 200


def _decode(pixmap: pymupdf.Pixmap) -> list[str]:
    image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    return [r.text for r in zxingcpp.read_barcodes(image)]


def pdf_codes(pdf: bytes) -> list[list[str]]:
    """Each page's decoded QR codes (a PDF rendered at 200 dpi, as printed)."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return [_decode(page.get_pixmap(dpi=DPI, alpha=False)) for page in doc]


def svg_codes(svg: str) -> list[str]:
    with pymupdf.open(stream=svg.encode(), filetype="svg") as doc:
        return _decode(doc[0].get_pixmap(dpi=DPI, alpha=False))
