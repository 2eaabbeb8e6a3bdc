"""Draw the application icon with Qt and write resources/pms.png and resources/pms.ico.

Run once when the icon changes (`.venv/bin/python scripts/make_icon.py`); the
outputs are committed. The ICO holds PNG-compressed images of the sizes Windows
asks for (16 to 256 px), packed by hand: Qt's own ICO writer keeps only one.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath, QPen, QPolygonF

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 24, 32, 48, 64, 128, 256)


def draw(size: int) -> QImage:
    """A green rounded tile, a white battery outline and an amber lightning bolt; drawn on a 256 grid."""
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    p.scale(size / 256, size / 256)
    tile = QLinearGradient(0, 0, 0, 256)
    tile.setColorAt(0, QColor("#43a047"))
    tile.setColorAt(1, QColor("#1b5e20"))
    p.setPen(Qt.NoPen)
    p.setBrush(tile)
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 48, 48)
    # battery body and cap
    p.setBrush(Qt.NoBrush)
    p.setPen(QPen(QColor("white"), 16, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
    p.drawRoundedRect(QRectF(52, 72, 136, 112), 16, 16)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor("white"))
    p.drawRoundedRect(QRectF(192, 104, 18, 48), 6, 6)
    # lightning bolt
    bolt = QPolygonF([QPointF(x, y) for x, y in ((134, 84), (86, 136), (116, 136), (102, 174), (154, 118), (122, 118))])
    path = QPainterPath()
    path.addPolygon(bolt)
    path.closeSubpath()
    p.setBrush(QColor("#ffca28"))
    p.setPen(QPen(QColor("#ff8f00"), 4, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
    p.drawPath(path)
    p.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def ico_bytes(pngs: list[tuple[int, bytes]]) -> bytes:
    """An ICO file (ICONDIR + ICONDIRENTRY per image) whose images are PNG streams."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, blob in pngs:
        side = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(sys.argv[:1])
    out = ROOT / "resources"
    out.mkdir(exist_ok=True)
    pngs = [(size, png_bytes(draw(size))) for size in SIZES]
    (out / "pms.png").write_bytes(dict(pngs)[256])
    (out / "pms.ico").write_bytes(ico_bytes(pngs))
    print(f"wrote {out / 'pms.png'} and {out / 'pms.ico'} ({', '.join(str(s) for s in SIZES)} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
