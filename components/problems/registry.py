"""What differs between tasks (classification, regression, ...): how the split is drawn, how raw model
outputs become predictions, what the registered pyfunc returns, which metrics and plots evaluate makes.
`TASKS` maps a task name (a family declares one) to its `Task`."""

from components.problems.anomaly import ANOMALY
from components.problems.base import Task
from components.problems.classification import CLASSIFICATION, TEXT_CLASSIFICATION
from components.problems.clustering import CLUSTERING
from components.problems.detection import DETECTION
from components.problems.forecasting import FORECASTING
from components.problems.regression import REGRESSION

TASKS: dict[str, Task] = {"classification": CLASSIFICATION, "regression": REGRESSION, "clustering": CLUSTERING,
                          "forecasting": FORECASTING, "text_classification": TEXT_CLASSIFICATION, "anomaly": ANOMALY,
                          "detection": DETECTION}
