"""The model lifecycle on MLflow: tracking, the registry adapter, the pyfunc, the promotion gate, the ledger,
lineage."""
