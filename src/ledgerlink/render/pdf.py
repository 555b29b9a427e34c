"""An invoice as a PDF, for accounting systems that give none.

The PDF writer is the sandbox's (``sandbox._pdf``): one small dependency-free writer, used by both.
"""

from __future__ import annotations

from ledgerlink.formats.pdf import render_pdf
from ledgerlink.model import Invoice

__all__ = ["invoice_pdf", "render_pdf"]


def invoice_lines(invoice: Invoice) -> list[str]:
    cur = invoice.currency
    out = [
        f"Customer: {invoice.customer_code}",
        f"Issued: {invoice.issue_date.isoformat()}    Due: {invoice.due_date.isoformat()}    "
        f"Status: {invoice.status or ''}",
        f"Reference: {invoice.reference or ''}",
        "",
        "Qty        Unit price    VAT%   Net          Description",
    ]
    for line in invoice.lines:
        out.append(
            f"{line.quantity:<10f} {line.unit_price:<13f} {line.tax_rate:<6g} {line.net:<12f} {line.description}"
        )
    net = invoice.total_net if invoice.total_net is not None else invoice.lines_net
    out += ["", f"Net {cur} {net:.2f}"]
    if invoice.total_tax is not None:
        out.append(f"VAT {cur} {invoice.total_tax:.2f}")
    if invoice.total_gross is not None:
        out.append(f"Total {cur} {invoice.total_gross:.2f}")
        paid = invoice.amount_paid or 0
        out += [f"Paid {cur} {paid:.2f}", f"Due {cur} {invoice.total_gross - paid:.2f}"]
    return out


def invoice_pdf(invoice: Invoice) -> bytes:
    return render_pdf(invoice_lines(invoice), title=f"Invoice {invoice.number or invoice.reference or ''}".strip())
