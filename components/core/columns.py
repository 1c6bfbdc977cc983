"""Column names of Keel's raw layouts, defined once."""

LABEL = "label"  # the target column of every labelled kind (renamed from `ingest.label_column`)
SPLIT = "split"  # optional predefined split (train / test), honoured by features
TEXT = "text"  # the text kind's input column
TIMESTAMP, VALUE = "timestamp", "value"  # the series kind's columns
