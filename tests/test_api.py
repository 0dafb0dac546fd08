"""hdnnp.load: a potential file, an n2p2 directory, a training run directory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from test_potential_file import small_potential, small_structures

import hdnnp
from hdnnp.api import RUN_BEST
from hdnnp.batch import make_batch
from hdnnp.potential import HDNNP, Output
from hdnnp.potential_file import save
from hdnnp.predict import predict
from hdnnp.units import BOHR_TO_ANGSTROM


def _assert_loaded(model):
    assert isinstance(model, HDNNP) and isinstance(model, torch.nn.Module)
    assert not model.training
    assert model.dtype == torch.float64 and model.device.type == "cpu"


def test_load_potential_file(tmp_path):
    original = small_potential()
    path = save(original, tmp_path / "small.hdnnp")
    model = hdnnp.load(path)
    _assert_loaded(model)
    assert hdnnp.load(str(path)).descriptors == original.descriptors


def test_load_run_directory(tmp_path):
    original = small_potential()
    run = tmp_path / "run"
    run.mkdir()
    save(original, run / RUN_BEST)
    (run / "log.txt").write_text("epoch 1\n")
    model = hdnnp.load(run)
    _assert_loaded(model)
    structures = small_structures(2)
    for a, b in zip(predict(original, structures), predict(model, structures), strict=True):
        assert a.energy == b.energy


def test_load_n2p2_directory_with_units():
    directory = shared_path("n2p2", "mlearn_Si_nnp")
    in_bohr = hdnnp.load(directory, units="hartree-bohr")
    as_is = hdnnp.load(directory)  # default ev-angstrom: numbers taken as Å
    _assert_loaded(in_bohr)
    assert in_bohr.cutoff == pytest.approx(as_is.cutoff * BOHR_TO_ANGSTROM, rel=1e-14)
    assert in_bohr.metadata["source"]["units"] == "hartree-bohr"


def test_load_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.hdnnp"):
        hdnnp.load(tmp_path / "nothing.hdnnp")


def test_load_directory_without_potential(tmp_path):
    with pytest.raises(ValueError, match="neither an n2p2 potential.*nor a training run"):
        hdnnp.load(tmp_path)


def test_loaded_module_called_on_batch_gives_output(tmp_path):
    model = hdnnp.load(save(small_potential(), tmp_path / "small.hdnnp"))
    structures = small_structures(3)
    batch = make_batch(structures, model.elements, model.cutoff, model.angular_cutoff)
    out = model(batch)
    assert isinstance(out, Output)
    assert out.energy.shape == (3,)
    assert out.atomic_energies.shape == (18,) and out.forces.shape == (18, 3)
    assert out.stress is None
    with_stress = model(batch, stress=True)
    assert with_stress.stress.shape == (3, 3, 3)
    assert torch.isnan(with_stress.stress[1]).all()  # frame 1 is not periodic
    expected = predict(model, structures)
    np.testing.assert_allclose(out.energy.detach().numpy(), [p.energy for p in expected])
