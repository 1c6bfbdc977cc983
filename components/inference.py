"""Inference on RAW rows with a rebuilt checkpoint: the one path used by evaluate, the registered
pyfunc and batch scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from components.models import Checkpoint


@torch.inference_mode()
def predict_outputs(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 1024,
                    device: torch.device | None = None) -> np.ndarray:
    """Raw rows -> model outputs; class probabilities (N, K) for classifiers."""
    device = device or torch.device("cpu")
    model = ckpt.model.to(device).eval()
    x = torch.from_numpy(ckpt.transform.features(df))
    outs = []
    for i in range(0, len(x), batch_size):
        out, _ = model(x[i:i + batch_size].to(device))
        outs.append(torch.softmax(out.float(), dim=1).cpu() if ckpt.transform.kind == "image" else out.cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0, ckpt.transform.n_outputs), dtype=np.float32)


def to_frame(ckpt: Checkpoint, outputs: np.ndarray) -> pd.DataFrame:
    """Outputs -> a frame: `prediction` (original label) and one `p_<class>` column per class."""
    frame = pd.DataFrame({"prediction": ckpt.transform.decode(outputs.argmax(1))})
    for i, c in enumerate(ckpt.transform.classes):
        frame[f"p_{c}"] = outputs[:, i].astype(np.float64)
    return frame
