"""Inference on RAW rows with a rebuilt checkpoint: the one path used by evaluate, the registered
pyfunc and batch scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from components.config import FAMILY_INFO
from components.models import Checkpoint
from components.tasks import TASKS, Task


def task_of(ckpt: Checkpoint) -> Task:
    """The task of the checkpoint's family."""
    return TASKS[FAMILY_INFO[ckpt.family].task]


@torch.inference_mode()
def predict(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 1024,
            device: torch.device | None = None) -> np.ndarray:
    """Raw rows -> predictions (class probabilities for classifiers, values in target units for regression)."""
    device = device or torch.device("cpu")
    model = ckpt.model.to(device).eval()
    x = torch.from_numpy(ckpt.transform.features(df))
    outs = [model(x[i:i + batch_size].to(device))[0].float().cpu() for i in range(0, len(x), batch_size)]
    raw = torch.cat(outs).numpy() if outs else np.zeros((0, ckpt.transform.n_outputs), dtype=np.float32)
    return task_of(ckpt).postprocess(ckpt.transform, raw)


def to_frame(ckpt: Checkpoint, predictions: np.ndarray) -> pd.DataFrame:
    """Predictions -> the pyfunc's output frame (`prediction`, plus `p_<class>` for classifiers)."""
    return task_of(ckpt).frame(ckpt.transform, predictions)
