"""The inputs digest covers a plugin family's own package and the computing libraries' versions."""

from pathlib import Path

from components.stages import inputs


def test_a_plugin_familys_package_files_are_its_code():
    files = {Path(f).name for f in inputs.family_code("mlp")}  # examples/keel-wine, installed in the venv
    assert {"family.py", "model.py", "__init__.py"} <= files
    assert inputs.family_code("cnn") == []  # built-in: in the stages' import closures


def test_the_runtime_versions_are_the_installed_ones():
    import numpy
    import torch

    found = inputs.runtime_versions()
    assert set(found) == {"torch", "numpy", "scikit-learn", "pandas"}
    assert (found["torch"], found["numpy"]) == (torch.__version__, numpy.__version__)
