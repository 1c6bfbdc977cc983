"""Pipeline stages (ingest, validate, features, train, evaluate, register): one `run()` each, declared once in
`pipeline.py`; `python -m components.stages <stage>` is the command dvc.yaml runs."""
