"""Drift monitoring of what the registered models score: the statistics and Keel's decision rule (pure), the
check of an inference-log window against a version's reference, its reports, and inferred expectation suites."""
