"""Reading a ``tuner report`` page: its embedded plots, its sections and its tables."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)" height="(\d+)"')


def embedded_images(page: str) -> list[tuple[Image.Image, int, int]]:
    return [(Image.open(io.BytesIO(base64.b64decode(data))), int(w), int(h)) for data, w, h in IMG.findall(page)]


def non_white(img: Image.Image) -> float:
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    return float((rgb.min(axis=2) < 235).mean())


def check_images(page: str, expected: int) -> None:
    images = embedded_images(page)
    assert len(images) == expected
    for img, width, height in images:
        assert img.format == "PNG"
        assert img.size == (width, height)  # the size the page reserves is the image's own
        assert width >= 600 and height >= 300
        assert non_white(img) > 0.02  # axes, points and lines, not a blank canvas


def section(page: str, heading: str) -> str:
    """The HTML from an <h2> heading to the next one."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:] if end < 0 else page[start:end]


def table_column(html: str, header: str) -> list[str]:
    """The cells (as text) of the column named ``header`` of the first table in ``html``."""
    head, body = html.split("</thead>", 1)
    index = re.findall(r"<th>(.*?)</th>", head).index(header)
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("</tbody>", 1)[0])
    return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row)[index]) for row in rows]
