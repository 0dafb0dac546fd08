"""hdnnp export: n2p2 files that read back identically, and the LAMMPS lines."""

from __future__ import annotations

import math

import torch
from conftest import shared_path
from test_potential_file import small_potential, small_structures

from hdnnp.cli import main
from hdnnp.lammps import pair_style_lines
from hdnnp.n2p2 import read_n2p2
from hdnnp.potential import NetworkSpec
from hdnnp.potential_file import save


def test_export_round_trip_and_lammps_lines(tmp_path, capsys):
    model = small_potential()
    path = save(model, tmp_path / "m.hdnnp")
    out_dir = tmp_path / "nnp"
    assert main(["export", str(path), "-o", str(out_dir), "--units", "hartree-bohr"]) == 0
    text = capsys.readouterr().out
    assert "pair_style hdnnp" in text and "cflength 1.8897261" in text
    assert "cfenergy 0.0367493" in text
    assert f"pair_coeff * * {' '.join(model.elements)}" in text
    again = read_n2p2(out_dir, units="hartree-bohr")
    structures = small_structures()
    a = model.evaluate(model.make_batch(structures))
    b = again.evaluate(again.make_batch(structures))
    torch.testing.assert_close(a.energy, b.energy, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(a.forces, b.forces, rtol=1e-12, atol=1e-10)


def test_cutoff_is_rounded_up_and_ev_files_need_no_conversion():
    model = read_n2p2(shared_path("n2p2", "H2O_RPBE-D3"), units="hartree-bohr")
    style, coeff = pair_style_lines(model, "nnp")
    cutoff = float(style.split()[2])
    assert cutoff >= model.cutoff and cutoff - model.cutoff < 1e-6
    assert math.isclose(cutoff, 6.350126, abs_tol=1e-6)  # 12 Bohr
    assert "cflength" not in style and coeff == "pair_coeff * * H O"


def test_unexportable_potential_is_refused_with_the_reason(tmp_path, capsys):
    model = small_potential()
    spec = NetworkSpec(
        {e: (4,) for e in model.elements},
        {e: (("t", "l") if k == 0 else ("s", "l")) for k, e in enumerate(model.elements)},
    )
    from hdnnp.potential import HDNNP

    odd = HDNNP(model.descriptors, spec)
    odd.scaler.load_state_dict(model.scaler.state_dict())
    odd.scaler.mode = model.scaler.mode
    path = save(odd, tmp_path / "odd.hdnnp")
    assert main(["export", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "activation" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
