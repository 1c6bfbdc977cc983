"""Keel flows: Prefect orchestration around the component functions (no ML logic lives here)."""
