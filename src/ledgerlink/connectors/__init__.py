"""One package per system. Only connectors know URLs; everything else sees plain dicts and the canonical model."""
