"""What a registered model packages: the Keel code its pyfunc runs, pinned requirements without Keel, and a
warning when the Keel running a model is not the code it was logged with."""

import warnings

import pytest

from components.core.codedeps import code_sha256
from components.lifecycle import packaging
from components.lifecycle.pyfunc import KeelCodeWarning, check_code


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("packaged")
    return folder, packaging.bundle("cnn", folder / "code")


def test_bundle_holds_the_pyfunc_closure_and_pins_its_requirements(packaged):
    folder, code = packaged
    assert {"components/lifecycle/pyfunc.py", "components/inference/checkpoint.py",
            "components/models/cnn.py"} <= set(code.files)
    assert not any(f.startswith(("flows/", "tests/")) or "/stages/" in f for f in code.files)
    assert code.code_paths == [str(folder / "code" / "components")]
    names = {r.split("==")[0].lower() for r in code.requirements}
    assert {"mlflow", "torch", "numpy", "pandas", "pydantic"} <= names and not names & {"keel", "components"}
    assert all("==" in r and "+" not in r for r in code.requirements), code.requirements
    again = packaging.bundle("cnn", folder / "again")
    assert again.sha256 == code.sha256  # the code version is the content, not the folder


def test_a_different_keel_than_the_packaged_one_warns(packaged):
    folder, code = packaged
    info = {"sha256": code.sha256, "files": code.files, "git_commit": "abc"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_code(info, folder / "code") is None  # this Keel is the packaged code
    with pytest.warns(KeelCodeWarning, match="model logged with Keel code 000000000000"):
        assert check_code(info | {"sha256": "0" * 64}, folder / "code")


def test_a_plugin_family_is_checked_against_its_own_package(tmp_path):
    """The plugin's files (keel_wine/*) are hashed where the plugin is installed, not under Keel's root: the same
    code does not warn; a plugin file that differs from the packaged one does."""
    code = packaging.bundle("mlp", tmp_path / "code")
    assert "keel_wine/model.py" in code.files
    info = {"sha256": code.sha256, "files": code.files, "git_commit": "abc"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_code(info, tmp_path / "code") is None
    model = tmp_path / "code" / "keel_wine" / "model.py"
    model.write_text(model.read_text() + "\n# changed\n")  # logged with another plugin than the one installed
    changed = info | {"sha256": code_sha256(tmp_path / "code", code.files)}
    with pytest.warns(KeelCodeWarning, match="model logged with Keel code"):
        assert check_code(changed, tmp_path / "code")
