"""ONNX export of each neural family's network (seeded random weights), checked against PyTorch on more rows,
and of other lengths, than the export traced: the row axis is dynamic and the text families' length handling
survives tracing. A network whose traced graph differs from its eager forward fails the check, named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.families.registry import get
from components.inference.onnxrt import SAMPLE_ROWS, OnnxMismatchError, choose, export_checked

pytest.importorskip("onnxruntime")

ROWS = SAMPLE_ROWS * 4 + 3


def tokens(rng: np.random.Generator, rows: int, width: int = 20, vocab: int = 50) -> np.ndarray:
    """(rows, width) ids, 0-padded at the end, of every length (one all-padding row)."""
    lengths = rng.integers(0, width + 1, (rows, 1))
    lengths[0], lengths[1] = 0, width
    return np.where(np.arange(width) < lengths, rng.integers(2, vocab, (rows, width)), 0).astype(np.int64)


# family -> (input shape, outputs, build kwargs, rows); cnn covers fashion_cnn and image_cnn (the same network)
CASES = {
    "cnn": ((1, 8, 8), 10, {}, lambda rng: rng.random((ROWS, 1, 8, 8), dtype=np.float32)),
    "rnn": ((1, 8, 8), 10, {}, lambda rng: rng.random((ROWS, 1, 8, 8), dtype=np.float32)),
    "linear": ((6,), 1, {}, lambda rng: rng.standard_normal((ROWS, 6), dtype=np.float32)),
    "anomaly": ((6,), 2, {}, lambda rng: rng.standard_normal((ROWS, 6), dtype=np.float32)),
    # the hybrid forecaster: 24 past steps + the backbone's 6-step path per row
    "forecasting": ((30,), 6, {"input_len": 24, "season": 12},
                    lambda rng: rng.standard_normal((ROWS, 30), dtype=np.float32)),
    # sunspots' settings (CONFIGS): one learned interval width per step
    "sunspots_forecasting": ((30,), 6, {"input_len": 24, "season": 12},
                             lambda rng: rng.standard_normal((ROWS, 30), dtype=np.float32)),
    "text_cnn": ((20,), 2, {"vocab_size": 50}, lambda rng: tokens(rng, ROWS)),
    "text_gru": ((20,), 2, {"vocab_size": 50}, lambda rng: tokens(rng, ROWS)),
    # detection: the network in ONNX, its peak picking (top-k) after it in PyTorch (onnxrt.Headed)
    "detection": ((1, 32, 32), 3, {}, lambda rng: rng.random((ROWS, 1, 32, 32), dtype=np.float32)),
    "video": ((4, 3, 16, 16), 3, {}, lambda rng: rng.random((SAMPLE_ROWS + 2, 4, 3, 16, 16), dtype=np.float32)),
}
CONFIGS = {"sunspots_forecasting": {"hidden": 0, "members": 1, "spread": "horizon"}}  # else the config's defaults


@pytest.mark.parametrize("family", list(CASES))
def test_family_exports_and_matches_torch(family, tmp_path):
    shape, n, kwargs, make = CASES[family]
    torch.manual_seed(0)
    declared = get(family)
    model = declared.build(declared.config(**CONFIGS.get(family, {})), shape, n, **kwargs).eval()
    x = make(np.random.default_rng(0))
    check = export_checked(model, x, tmp_path / "m.onnx", tolerance=1e-4)
    assert check.rows == len(x) and check.max_abs_diff < 1e-4
    runner = choose(tmp_path / "m.onnx", model).runner
    one = runner(x[-1:])  # one row (the latency path) through the dynamic row axis
    with torch.inference_mode():
        out = model(torch.from_numpy(x[-1:]))[0].numpy()
        assert one.shape == out.shape
        if hasattr(model, "postprocess"):  # the file holds the network; its maps match, peak picking is torch's
            one, out = runner.runner(x[-1:]), model.network(torch.from_numpy(x[-1:])).numpy()
        assert np.abs(one - out).max() < 1e-4


class _SizeBranch(torch.nn.Module):
    """A forward whose Python branch on the batch size is frozen by tracing: a real class of export bug."""

    def forward(self, x, y=None):
        return (x * 2 if x.shape[0] > SAMPLE_ROWS else x), None


def test_a_graph_that_differs_from_eager_fails_named(tmp_path):
    x = np.ones((SAMPLE_ROWS * 2, 3), dtype=np.float32)
    with pytest.raises(OnnxMismatchError, match=r"differ from PyTorch's by up to 1 .*register.onnx_tolerance"):
        export_checked(_SizeBranch(), x, tmp_path / "m.onnx", tolerance=1e-4)
