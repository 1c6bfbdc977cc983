"""Hyperparameter search (`keel tune <family>`): Optuna trials through the train stage's own `fit`."""
