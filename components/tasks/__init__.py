"""What differs between tasks (classification, regression, ...): how the split is drawn, how raw model
outputs become predictions, what the registered pyfunc returns, which metrics and plots evaluate makes.

`TASKS` maps a task name to its `Task`; a model family names its task in components/models.
"""

from components.tasks.anomaly import ANOMALY, anomaly_metrics
from components.tasks.base import LABEL, Task
from components.tasks.classification import CLASSIFICATION, TEXT_CLASSIFICATION, classification_metrics
from components.tasks.clustering import CLUSTERING, kmeans_baseline
from components.tasks.forecasting import FORECASTING
from components.tasks.regression import REGRESSION, ols_predict, regression_metrics

__all__ = ["LABEL", "TASKS", "Task", "anomaly_metrics", "classification_metrics", "kmeans_baseline", "ols_predict",
           "regression_metrics"]

# task name -> Task; tasks added by families register here.
TASKS: dict[str, Task] = {"classification": CLASSIFICATION, "regression": REGRESSION, "clustering": CLUSTERING,
                          "forecasting": FORECASTING, "text_classification": TEXT_CLASSIFICATION, "anomaly": ANOMALY}
