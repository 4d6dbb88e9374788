"""The Hangul glyphs a page uses, embedded in the page.

Korean pages must read correctly on a machine without a Korean font, without fetching
anything: :func:`hangul_font_css` subsets NanumGothic (shipped with koreanize-matplotlib, the
font the figures use) to the Hangul characters of the page and embeds it as a base64 WOFF
``@font-face`` named "crmlab Hangul", which the pages' font stacks list first.

Examples
--------
>>> hangul_font_css("<html>revenue ₩1,234</html>")
''
>>> with_hangul_font("<html><head></head><body>no Korean</body></html>")
'<html><head></head><body>no Korean</body></html>'
"""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["FONT_FAMILY", "hangul_chars", "hangul_font_css", "with_hangul_font"]

#: The font-family name of the embedded subset.
FONT_FAMILY = "crmlab Hangul"
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def hangul_chars(text: str) -> set[str]:
    """The distinct Hangul characters (jamo, compatibility jamo, syllables) of ``text``."""
    return set(_HANGUL.findall(text))


def hangul_font_css(text: str) -> str:
    """An inline ``@font-face`` ("crmlab Hangul") holding just the Hangul glyphs ``text`` uses.

    Returns "" when ``text`` has no Hangul or the font (or fontTools) is not installed.
    """
    chars = hangul_chars(text)
    if not chars:
        return ""
    try:
        import base64
        import io

        import koreanize_matplotlib
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:
        return ""
    font_path = Path(koreanize_matplotlib.__file__).parent / "fonts" / "NanumGothic.ttf"
    if not font_path.is_file():
        return ""
    options = subset.Options()
    options.flavor = "woff"
    options.notdef_outline = True
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # VTT hinting sources
    font = TTFont(str(font_path))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in chars})
    subsetter.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<style type="text/css">@font-face {{ font-family: "{FONT_FAMILY}"; '
            f'src: url(data:font/woff;base64,{data}) format("woff"); '
            'unicode-range: U+1100-11FF, U+3130-318F, U+AC00-D7A3; }</style>')


def with_hangul_font(page: str) -> str:
    """``page`` with :func:`hangul_font_css` of its own text inserted before ``</head>``."""
    css = hangul_font_css(page)
    if not css or "</head>" not in page:
        return page
    return page.replace("</head>", css + "\n</head>", 1)
