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


def save(tab: Any, name: str, *, full_page: bool = True) -> Path:
    """Save what the page looks like, after checking nothing spills off the side."""
    from PIL import Image

    size = dict(tab.viewport_size)
    assert tab.evaluate("document.documentElement.scrollWidth") <= size["width"], (
        f"{name} is too wide"
    )
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
