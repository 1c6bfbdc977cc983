"""KEEL_INFERENCE_DEVICE picks where scoring runs (evaluate, the pyfunc, keel predict); a device this
machine cannot use is refused, naming the variable, before any row is scored."""

import pytest
import torch

from components.inference.predict import DEVICE_ENV, inference_device


def test_default_is_cpu_and_the_variable_is_read(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert inference_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "meta")  # a real torch device type: the variable is honoured, not ignored
    assert inference_device() == torch.device("meta")


def test_a_device_that_is_not_there_is_named(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "gpu0")
    with pytest.raises(ValueError, match="KEEL_INFERENCE_DEVICE='gpu0': not a torch device"):
        inference_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_ENV, "cuda")
        with pytest.raises(ValueError, match="KEEL_INFERENCE_DEVICE='cuda': no CUDA device"):
            inference_device()
