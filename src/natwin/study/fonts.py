"""The one font of the study's PDF: a TrueType font with Latin and CJK glyphs, so English and
Chinese studies look the same on every machine and embed their font (a subset).

reportlab embeds TrueType outlines only (not the CFF outlines of Noto CJK OTF), so the project's
set-up installs WenQuanYi Micro Hei (Debian package ``fonts-wqy-microhei``, Apache-2.0 or
GPLv3 with font exception; ``make fonts``). ``NATWIN_STUDY_FONT`` names another TrueType file
(``.ttf`` or ``.ttc``, first face) instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from natwin.errors import NatwinError

ENV = "NATWIN_STUDY_FONT"
#: Where the set-up puts the font (Debian and Ubuntu's fonts-wqy-microhei), in order of search.
CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),  # Fedora's wqy-microhei-fonts
)
FONT_NAME = "WenQuanYi Micro Hei"
PACKAGE = "fonts-wqy-microhei"


class FontMissingError(NatwinError):
    """No usable study font: says which font, where it was looked for and how to install it."""


@dataclass(frozen=True)
class StudyFont:
    path: Path
    name: str


#: Characters a study font must draw: the study's title in Chinese.
CJK_PROBE = "可行性研究报告"


def has_cjk(path: Path) -> bool:
    """Whether the first face of the TrueType file ``path`` has a glyph for every character of
    :data:`CJK_PROBE` (a font without them would print boxes)."""
    # lazy: reportlab's font reader loads only when a study is written
    from reportlab.pdfbase.ttfonts import TTFError, TTFontFile

    try:
        face = TTFontFile(str(path), subfontIndex=0)
    except TTFError:
        return False
    return all(ord(c) in face.charToGlyph for c in CJK_PROBE)


def find_font() -> StudyFont:
    """The study's font: ``$NATWIN_STUDY_FONT`` if set (it must exist), else the first installed
    candidate. Raises :class:`FontMissingError` naming the places searched."""
    chosen = os.environ.get(ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file() or path.suffix.lower() not in (".ttf", ".ttc"):
            raise FontMissingError(
                f"{ENV}={chosen}: not a TrueType font file (.ttf or .ttc); the study needs a TrueType "
                f"font with CJK glyphs, e.g. {CANDIDATES[0]} of the Debian package {PACKAGE}"
            )
        if not has_cjk(path):
            raise FontMissingError(
                f"{ENV}={chosen}: the font has no Chinese glyphs (its first face maps no {CJK_PROBE}); the "
                f"study needs a TrueType font with CJK glyphs, e.g. {CANDIDATES[0]} of the Debian package {PACKAGE}"
            )
        return StudyFont(path, path.stem)
    for path in CANDIDATES:
        if path.is_file():
            return StudyFont(path, FONT_NAME)
    searched = ", ".join(str(p) for p in CANDIDATES)
    raise FontMissingError(
        f"the study font {FONT_NAME} (TrueType, Latin and CJK) is not installed; looked in {searched}. "
        f"Install it with `make fonts` (apt-get install {PACKAGE}) or set {ENV} to a TrueType .ttf/.ttc "
        "file with CJK glyphs"
    )
