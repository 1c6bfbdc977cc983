"""Column names of Keel's raw layouts and the forecasting output's quantiles, defined once."""

LABEL = "label"  # the target column of every labelled kind (renamed from `ingest.label_column`)
SPLIT = "split"  # optional predefined split (train / test), honoured by features
TEXT = "text"  # the text kind's input column
TIMESTAMP, VALUE = "timestamp", "value"  # the series kind's columns
QUANTILES = (0.1, 0.5, 0.9)  # the forecasting kind's quantiles: axis 1 of its (N, 3, horizon) predictions
