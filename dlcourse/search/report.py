"""Duplicate groups for people: a CSV to sort and filter, and an HTML contact sheet of thumbnails."""
from __future__ import annotations

import base64
import csv
import html
from pathlib import Path

from .images import thumbnail_jpeg
from .index import SearchIndex

CSV_NAME = "duplicates.csv"
HTML_NAME = "duplicates.html"
STYLE = """body{font-family:sans-serif;margin:1.5em}h2{font-size:1em;margin:1.2em 0 .3em}
.group{display:flex;flex-wrap:wrap;gap:10px}.cell{width:170px;font-size:11px;word-break:break-all}
.cell img{max-width:160px;max-height:160px;display:block;border:1px solid #ccc}.missing{color:#b00}"""


def write_duplicate_report(index: SearchIndex, groups, threshold: float, out_dir) -> tuple[Path, Path]:
    """Write duplicates.csv (group, path, similarity to the group's first file, bytes) and duplicates.html.

    groups: as duplicate_groups() returns them. Returns the two paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / CSV_NAME, out_dir / HTML_NAME
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "path", "similarity_to_first", "bytes"])
        for number, group in enumerate(groups, start=1):
            for row, score in group:
                writer.writerow([number, str(index.file(row)), f"{score:.4f}", index.entries[row].size])
    html_path.write_text(contact_sheet(index, groups, threshold), encoding="utf-8")
    return csv_path, html_path


def contact_sheet(index: SearchIndex, groups, threshold: float) -> str:
    """A self-contained HTML page: one row of thumbnails (embedded as JPEG data) per duplicate group."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>Duplicate groups</title><style>{STYLE}</style>",
             f"<h1>{len(groups)} duplicate groups</h1><p>{html.escape(str(index.root))}: cosine similarity &gt; "
             f"{threshold:g} with embedder {html.escape(index.embedder)}. The first file of each group is the "
             "reference; the number under each file is its similarity to it.</p>"]
    for number, group in enumerate(groups, start=1):
        parts.append(f"<h2>Group {number} · {len(group)} files</h2><div class='group'>")
        for row, score in group:
            parts.append(_cell(index, row, score))
        parts.append("</div>")
    return "\n".join(parts) + "\n"


def _cell(index: SearchIndex, row: int, score: float) -> str:
    """One thumbnail with its file name and score."""
    path = index.file(row)
    thumbnail = thumbnail_jpeg(path)
    picture = (f"<img src='data:image/jpeg;base64,{base64.b64encode(thumbnail).decode()}' alt=''>" if thumbnail
               else "<span class='missing'>(cannot be read now)</span>")
    name = html.escape(index.entries[row].path)
    return f"<div class='cell'><a href='{html.escape(path.as_uri())}'>{picture}</a>{name}<br>{score:.3f}</div>"
