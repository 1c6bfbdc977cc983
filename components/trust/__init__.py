"""Trust in a trained model, measured on raw rows through the model's own transform: explanations with their
sanity checks (Captum), robustness under perturbations, membership inference. Above inference (it predicts
with checkpoints), below training and lifecycle (which log and register what it measures)."""
