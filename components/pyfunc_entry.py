"""MLflow models-from-code entry: executed by MLflow when it loads a Keel model (never imported by Keel)."""

import mlflow.models

from components.pyfunc_model import KeelPyfunc

mlflow.models.set_model(KeelPyfunc())
