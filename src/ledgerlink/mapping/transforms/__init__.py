"""Named transforms. Importing this package registers them all; see ``REGISTRY`` and the mapping README."""

from ledgerlink.mapping.transforms import addresses, countries, dates, lookups, names, numbers, text
from ledgerlink.mapping.transforms.registry import REGISTRY, TransformFn, TransformInfo, build_transform, chain

__all__ = [
    "REGISTRY",
    "TransformFn",
    "TransformInfo",
    "addresses",
    "build_transform",
    "chain",
    "countries",
    "dates",
    "lookups",
    "names",
    "numbers",
    "text",
]
