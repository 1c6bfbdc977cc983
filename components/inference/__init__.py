"""A trained model at work: self-describing checkpoints and raw rows -> predictions (one path for evaluate,
the registered pyfunc and serving)."""
