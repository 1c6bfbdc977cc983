"""keel-wine: the worked example of a Keel family that lives in its own package (docs/adding-a-family.md)."""
