"""The inference log: what `keel serve` and `keel predict` scored, for drift monitoring.

    logs/inference/model=<name>/date=<YYYY-MM-DD>/part-<segment>-<date>.parquet   the log (Hive-style partitions)
    logs/inference/_wal/<name>/<segment>.arrows     write-ahead segments: rows acknowledged, not yet in Parquet
    logs/inference/_held/<name>/<request>/          a batch run's segments: converted when its output is written
    logs/inference/_stats/<name>/<segment>.json     per writer: rows seen, sampled out, logged, dropped, flushed
    logs/inference/feedback/model=<name>/*.parquet  labels that arrived later (`keel feedback`), by request id

A log row: `ts` (UTC), `version`, `request_id`, `row` (its position in the request or file), `source` (serve |
batch), the monitored features `f.<name>` (the raw input columns, or for wide images and text a compact per-row
summary), `prediction`, and `embedding` (the model's own, for images and text). `rows.py` says what a row
holds, `writer.py` how it gets to disk, `store.py` how it is laid out and read back.
"""
