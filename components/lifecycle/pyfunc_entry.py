"""MLflow models-from-code entry: executed by MLflow when it loads a Keel model (never imported by Keel)."""

import mlflow.models

from components.lifecycle.pyfunc import KeelPyfunc

mlflow.models.set_model(KeelPyfunc())
