"""Screenshots of the pages, as the browser tests save them for the README: in
`test-artifacts/pages/` (kept by git), each reduced to a palette of a few dozen colours
so the repository stays small."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCREENS = ROOT / "test-artifacts" / "pages"
COLOURS = 48
WIDER_THAN_THE_WINDOW = """() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return "";
    const past = [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${
            e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : ""
        } ends at ${Math.round(e.getBoundingClientRect().right)} px`);
    return `${document.documentElement.scrollWidth} px wide in a ${width} px window; ${
        past.join(", ")}`;
}"""
"""What spills past the window's right edge, in words, or "" when nothing does."""


def save(tab: Any, name: str, *, full_page: bool = True) -> Path:
    """Save what the page looks like, after checking nothing spills off the side."""
    from PIL import Image

    # A page reached by a form post may be measured before its stylesheet has loaded (a
    # layout without CSS is wider): seen once, under a full suite's load.
    tab.wait_for_load_state("load")
    size = dict(tab.viewport_size)
    wide = tab.evaluate(WIDER_THAN_THE_WINDOW)
    assert not wide, f"{name} is too wide: {wide}"
    height = tab.evaluate("document.documentElement.scrollHeight")
    if full_page and height > size["height"]:
        # A window as tall as the page, so what sticks to the bottom of the screen (the
        # operator's Save) is drawn where it rests, not over the middle of the page.
        tab.set_viewport_size({"width": size["width"], "height": height})
        try:
            png = tab.screenshot()
        finally:
            tab.set_viewport_size(size)
    else:
        png = tab.screenshot()
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    small = shot.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    small.save(path, format="PNG", optimize=True)
    return path
