"""The examples run: the demo (quick), the ASE calculator and training scripts, the zeolite
configs.

The quick demo (~30 s on 2 cores) is run once, in this process, and its potential is
reused by the ASE calculator example.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, shared_path

EXAMPLES = REPO / "examples"
ZEOLITES = EXAMPLES / "sio2_zeolites"


def _module(name: str):
    """Import ``examples/<name>.py`` (the examples folder is not a package)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads():
    """The examples train with one thread; give the other test modules theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert _module("demo").main(["--quick", "-o", str(out)]) == 0
    return out


def test_quick_demo_writes_potential_plots_and_summary(quick_demo):
    for name in (
        "run/best.hdnnp",
        "run/report.json",
        "run/learning_curve.png",
        "run/parity_energy.png",
        "md/traj_nn.extxyz",
        "md/traj_emt.extxyz",
        "analysis/rdf.png",
        "analysis/adf.png",
        "compare/compare_parity.png",
        "summary.json",
    ):
        assert (quick_demo / name).exists(), name
    summary = json.loads((quick_demo / "summary.json").read_text())
    assert all(Path(p).is_file() for p in summary["plots"])
    # the quick potential (8 epochs on ~70 frames) is rough but usable: stated bounds
    # 30 meV/atom and 0.2 eV/Å on its validation frames (measured 15 and 0.13)
    val = summary["training_errors"]["validation"]
    assert val["energy_rmse"] < 0.030
    assert val["force_rmse"] < 0.2


def test_quick_demo_rdf_first_peak_matches_emt(quick_demo):
    """Total g(r) of 900 K CuAu MD: first peak of the potential's run within 0.1 Å
    (2.5 bins) and 15 % in height of EMT's; measured 0.04 Å and 2 % (32 atoms, 1 ps)."""
    rdf = json.loads((quick_demo / "summary.json").read_text())["rdf"]["total"]
    emt, nn = rdf["peak_emt"], rdf["peak_hdnnp"]
    assert abs(nn["position"] - emt["position"]) <= 0.1
    assert abs(nn["height"] - emt["height"]) <= 0.15 * emt["height"]
    # within twice the difference between two EMT runs with different thermostat seeds
    assert rdf["integrated_abs_diff"] < 2.0 * rdf["noise_emt_vs_emt"]


def test_ase_calculator_example(quick_demo, capsys):
    assert _module("ase_calculator").main([str(quick_demo / "run"), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "relaxed lattice constant" in out and "NVE MD" in out


def test_ase_calculator_example_without_potential(tmp_path, capsys):
    assert _module("ase_calculator").main([str(tmp_path / "missing")]) == 1
    assert "scripts/demo.sh" in capsys.readouterr().err


def test_train_from_script_example(tmp_path, capsys):
    assert _module("train_from_script").main(["--quick", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "run" / "best.hdnnp").exists()
    assert "test set: E RMSE" in capsys.readouterr().out
    from hdnnp.config import load_config

    config = load_config(tmp_path / "config.yaml")  # the saved YAML repeats the run
    assert config.training.max_epochs == 5


def test_zeolite_configs_parse():
    shared_path("sio2_zeolites", "train.extxyz")
    shared_path("simple-nn-sio2", "v2", "params_Si")
    from hdnnp.config import load_config, to_dict
    from hdnnp.descriptors.simple_nn import config_from_simple_nn, descriptor_set_from_simple_nn

    native = load_config(ZEOLITES / "config.yaml")
    simple, _ = config_from_simple_nn(ZEOLITES / "input.yaml")
    for config in (native, simple):
        assert all(shared_exists(s.path) for s in config.data.train + config.data.test)
        assert descriptor_set_from_simple_nn(config.descriptors.simple_nn).count("Si") == 70
    # the two files describe the same run (apart from what config.yaml adds)
    a, b = to_dict(native), to_dict(simple)
    for section in ("descriptors", "scaling", "network"):
        assert a[section] == b[section], section
    assert a["loss"]["gdf"]["modifier_c"] == b["loss"]["gdf"]["modifier_c"]


def shared_exists(spec: str) -> bool:
    from hdnnp.io import split_spec

    return Path(split_spec(spec)[0]).is_file()


def test_zeolite_run_sh_without_data_exits_0(tmp_path):
    """Copied where no ../shared/data exists, run.sh says where the data goes, exit 0."""
    folder = tmp_path / "clone" / "examples" / "sio2_zeolites"
    shutil.copytree(ZEOLITES, folder)
    done = subprocess.run(
        ["bash", str(folder / "run.sh"), "native"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert "sio2_zeolites" in done.stdout and "README.md" in done.stdout
