"""What keeps a position by name (the ``Ledger``'s watermarks), as the parts that only read and move one see it: the
CDC subscriber, which saves its replay id, and the dispatcher in front of it, which stands in for the ledger so the
replay id moves only past changes handed on."""

from __future__ import annotations

from typing import Protocol


class WatermarkStore(Protocol):
    def get_watermark(self, name: str) -> str | None: ...
    def set_watermark(self, name: str, value: str) -> None: ...
