"""Family declarations: what Keel needs to know to run a model family (kind, task, model, data defaults)."""
