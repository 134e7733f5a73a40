"""Render the app icon (an SVG) into the hicolor theme's PNG sizes.

Usage: python packaging/render_icons.py SOURCE.svg ICONS_DIR NAME

Writes ``ICONS_DIR/hicolor/<N>x<N>/apps/NAME.png`` for every size desktops look up, and
copies the SVG to ``ICONS_DIR/hicolor/scalable/apps/NAME.svg``. Qt's own SVG renderer
does the drawing (PySide6 Essentials ships QtSvg), offscreen, so the build needs neither
a screen nor an extra system package.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def render(source: Path, icons_dir: Path, name: str) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {source} is not a valid SVG file")
    written = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = icons_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"render_icons: could not write {out}")
        written.append(out)
    scalable = icons_dir / "hicolor" / "scalable" / "apps" / f"{name}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, scalable)
    del app
    return [*written, scalable]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for path in render(Path(argv[0]), Path(argv[1]), argv[2]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
