"""A minimal PDF 1.4 writer: text lines in Helvetica on A4 pages, enough for a sandbox invoice.

Text is encoded as WinAnsi (Latin-1 subset); characters outside it become ``?``. Long documents
flow onto further pages rather than being cut off.
"""

from __future__ import annotations

from collections.abc import Sequence

_PAGE_W, _PAGE_H = 595, 842  # A4 in points
_MARGIN, _LEADING, _SIZE = 56, 14, 10
_LINES_PER_PAGE = (_PAGE_H - 2 * _MARGIN) // _LEADING


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", errors="replace")
    return (
        raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)").replace(b"\r", b"").replace(b"\n", b" ")
    )


def _page_content(lines: Sequence[str], title: str | None) -> bytes:
    ops = [b"BT", f"/F1 {_SIZE} Tf {_LEADING} TL {_MARGIN} {_PAGE_H - _MARGIN} Td".encode()]
    if title is not None:
        ops += [b"/F2 14 Tf", b"(" + _escape(title) + b") Tj T*", b"T*", f"/F1 {_SIZE} Tf".encode()]
    ops += [b"(" + _escape(line) + b") Tj T*" for line in lines]
    ops.append(b"ET")
    return b"\n".join(ops)


def render_pdf(lines: Sequence[str], *, title: str = "") -> bytes:
    """Return the bytes of a valid PDF showing ``title`` (bold) and then ``lines``, one per text line."""
    first_capacity = _LINES_PER_PAGE - 2
    chunks: list[Sequence[str]] = [lines[:first_capacity]]
    rest = lines[first_capacity:]
    while rest:
        chunks.append(rest[:_LINES_PER_PAGE])
        rest = rest[_LINES_PER_PAGE:]

    # Object numbers: 1 catalog, 2 pages, 3 Helvetica, 4 Helvetica-Bold, 5 info, then (page, content) pairs.
    page_ids = [6 + 2 * i for i in range(len(chunks))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(f"{p} 0 R".encode() for p in page_ids)
        + f"] /Count {len(page_ids)} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        5: b"<< /Title (" + _escape(title) + b") /Producer (LedgerLink sandbox) >>",
    }
    for index, (page_id, chunk) in enumerate(zip(page_ids, chunks, strict=True)):
        content = _page_content(chunk, title if index == 0 else None)
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_PAGE_W} {_PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary comment marks the file as binary to transports
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    count = max(objects) + 1
    out += f"xref\n0 {count}\n0000000000 65535 f \n".encode()
    for number in range(1, count):
        out += f"{offsets[number]:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {count} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)
