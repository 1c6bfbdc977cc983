"""The one strict params model: stage sections (sections.py) and params.yaml resolved for a family (params.py)."""
