"""hdnnp demo on data it makes itself (no DFT files needed).

1. Reference data: 40 copper structures (strained, rattled fcc and a vacancy) labelled
   with ASE's EMT calculator (energies, forces).
2. A Behler-Parrinello potential: radial and angular symmetry functions (r_c = 4.5 Å),
   scaling fitted on the data, one 16-16 network.
3. A short fit of energies and forces (Adam) through the exact autograd forces.
4. Errors against EMT on held-out frames, then the n2p2 export (input.nn, scaling.data,
   weights.029.data) re-imported and checked to give identical predictions, and the
   potential saved as one hdnnp file.

Full training from a config file (``hdnnp train``) is the next milestone; this script
shows the potential core end to end. Run: ``bash scripts/demo.sh`` (about a minute).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.io import structure_from_atoms
from hdnnp.n2p2 import read_n2p2, write_n2p2
from hdnnp.potential import HDNNP, NetworkSpec
from hdnnp.potential_file import load_file, save
from hdnnp.scaling import ScalingStats


def make_data(n: int, seed: int = 0):
    """EMT-labelled Cu frames: strained and rattled fcc 2x2x2 cells, some with a vacancy."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
        if k % 4 == 3:
            del atoms[0]
        strain = np.eye(3) + rng.normal(0.0, 0.02, (3, 3))
        atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
        atoms.rattle(stdev=0.08, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(structure_from_atoms(atoms, source="EMT", index=k))
    return frames


def descriptor_set(rc: float = 4.5) -> DescriptorSet:
    """8 radial (shifted Gaussians) and 8 narrow angular functions for Cu."""
    radial = [
        SymmetryFunction("Cu", 2, ("Cu",), eta=4.0, rs=rs, rc=rc) for rs in np.linspace(2.0, 4.3, 8)
    ]
    angular = [
        SymmetryFunction("Cu", 3, ("Cu", "Cu"), eta=eta, zeta=zeta, lambda_=lam, rc=rc)
        for eta in (0.01, 0.1)
        for zeta in (1.0, 4.0)
        for lam in (-1.0, 1.0)
    ]
    return DescriptorSet(("Cu",), tuple(radial + angular), "cos")


def build_potential(train) -> HDNNP:
    gen = torch.Generator().manual_seed(0)
    mean_e = float(np.mean([s.energy / s.n_atoms for s in train]))
    model = HDNNP(
        descriptor_set(),
        NetworkSpec.uniform(("Cu",), (16, 16)),
        energy_scale=1.0,
        atom_energies={"Cu": mean_e},
        generator=gen,
    )
    batch = model.make_batch(train)
    g = model.descriptors_of(batch)
    model.scaler.set_stats([ScalingStats.from_values(g.numpy())], "scale_center", -1.0, 1.0)
    return model


def fit(model: HDNNP, train, steps: int = 300) -> None:
    """Adam on RMSE(E/atom)^2 + 0.1 RMSE(F)^2, descriptors and dG/dr computed once."""
    from hdnnp.batch import make_batch
    from hdnnp.features import compute_features, evaluate_features

    batch = make_batch(train, model.elements, model.cutoff, model.angular_cutoff)
    features = compute_features(model, batch)
    e_ref, f_ref = batch.energy, batch.forces
    n = batch.n_atoms.to(torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    t0 = time.perf_counter()
    for step in range(steps):
        opt.zero_grad()
        out = evaluate_features(model, features, forces=True, create_graph=True)
        loss_e = (((out.energy - e_ref) / n) ** 2).mean()
        loss_f = ((out.forces - f_ref) ** 2).mean()
        loss = loss_e + 0.1 * loss_f
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(
                f"  step {step:4d}  RMSE E {1000 * loss_e.sqrt():7.2f} meV/atom  "
                f"RMSE F {loss_f.sqrt():6.3f} eV/Å  ({time.perf_counter() - t0:5.1f} s)"
            )


def errors(model: HDNNP, frames) -> tuple[float, float]:
    batch = model.make_batch(frames)
    out = model.evaluate(batch, forces=True)
    e = ((out.energy - batch.energy) / batch.n_atoms).numpy()
    f = (out.forces - batch.forces).numpy()
    return 1000 * float(np.sqrt(np.mean(e**2))), float(np.sqrt(np.mean(f**2)))


def main() -> int:
    torch.set_default_dtype(torch.float64)
    print("1. EMT reference data (40 Cu frames)")
    frames = make_data(40)
    train, test = frames[:32], frames[32:]
    print("2. potential: 16 symmetry functions, 16-16 network, scaling fitted")
    model = build_potential(train)
    print("3. fitting energies and forces (Adam, exact autograd forces)")
    fit(model, train)
    e_rmse, f_rmse = errors(model, test)
    print(f"4. held-out errors vs EMT: {e_rmse:.2f} meV/atom, {f_rmse:.3f} eV/Å")
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="hdnnp-"))
    write_n2p2(model, out_dir / "n2p2")
    again = read_n2p2(out_dir / "n2p2")
    path = save(model, out_dir / "Cu.hdnnp")
    loaded = load_file(path)
    ref = model.evaluate(model.make_batch(test))
    for other in (again, loaded):
        o = other.evaluate(other.make_batch(test))
        assert torch.allclose(o.energy, ref.energy, rtol=0, atol=1e-9)
        assert torch.allclose(o.forces, ref.forces, rtol=0, atol=1e-9)
    print(f"5. n2p2 files in {out_dir / 'n2p2'} and {path}: re-imported, identical predictions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
