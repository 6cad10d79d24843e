"""Venue-code QR images and printable A4 posters (one page per venue, many venues in one PDF).

Chinese text needs a CJK font on the server: Debian's fonts-noto-cjk (or fonts-wqy-microhei). It is located at run
time with fc-match, then at known paths; without one the poster fails with a message that names the package.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import segno
from django.utils.translation import gettext
from fpdf import FPDF

from fangkong.core.errors import ServiceError

INSTRUCTIONS = "请使用手机扫码登记，出示健康码，配合测温"
_KNOWN_FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: Simplified Chinese (SC)
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
]


@cache
def cjk_font() -> tuple[str, int]:
    """(path, index in the collection) of a font that covers Simplified Chinese."""
    if shutil.which("fc-match"):
        for family in ("Noto Sans CJK SC", "WenQuanYi Micro Hei"):
            try:
                out = subprocess.run(["fc-match", "-f", "%{file}:%{index}", f"{family}:lang=zh-cn"],
                                     capture_output=True, text=True, timeout=5).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                break
            path, _, face = out.rpartition(":")
            if path and ("CJK" in path or "wqy" in path.lower()) and Path(path).exists():
                return path, int(face or 0)
    for path, index in _KNOWN_FONTS:
        if Path(path).exists():
            return path, index
    raise ServiceError(gettext("服务器缺少中文字体，无法生成场所码海报：请安装 fonts-noto-cjk 或 fonts-wqy-microhei"
                               "（apt-get install -y fonts-noto-cjk）"))


def qr_svg(url: str, scale: int = 6) -> str:
    """Inline SVG for pages (no XML declaration, so it can sit inside HTML)."""
    return segno.make(url, error="m").svg_inline(scale=scale, border=2)


def qr_png(url: str, scale: int = 10) -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def posters_pdf(entries: Iterable[tuple[str, str, str, str]]) -> bytes:
    """One A4 page per (organisation name, venue name, venue kind label, scan URL)."""
    path, index = cjk_font()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", fname=path, collection_font_number=index)
    count = 0
    for org_name, venue_name, kind_label, url in entries:
        count += 1
        pdf.add_page()
        pdf.set_font("cjk", size=22)
        pdf.set_xy(15, 22)
        pdf.multi_cell(180, 11, org_name, align="C")
        pdf.set_font("cjk", size=34)
        pdf.set_x(15)
        pdf.multi_cell(180, 16, venue_name, align="C")
        pdf.set_font("cjk", size=14)
        pdf.set_x(15)
        pdf.cell(180, 9, f"场所码 · {kind_label}", align="C")
        pdf.image(io.BytesIO(qr_png(url)), x=45, y=85, w=120, h=120)
        pdf.set_xy(15, 215)
        pdf.set_font("cjk", size=20)
        pdf.multi_cell(180, 11, INSTRUCTIONS, align="C")
        pdf.set_font("cjk", size=10)
        pdf.set_xy(15, 270)
        pdf.multi_cell(180, 6, "此码定期更换，请以现场张贴的最新场所码为准", align="C")
    if not count:
        raise ServiceError(gettext("请至少选择一个场所"))
    return bytes(pdf.output())
