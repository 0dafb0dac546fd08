"""A trained potential inside ASE: single points, a cell relaxation and a short MD.

``hdnnp.Calculator`` takes a potential file (``best.hdnnp``), a training run directory
(its best potential) or an n2p2 potential directory, and gives ASE energies (eV), forces
(eV/Å), per-atom energies and stress (eV/Å^3). Anything in ASE that takes a calculator
works with it; here:

1. energy, forces and stress of ordered Cu3Au (L1_2) next to EMT's;
2. the lattice constant of Cu3Au relaxed with ``FrechetCellFilter`` (positions and cell)
   and BFGS, with the potential and with EMT;
3. NVE MD (velocity Verlet, 2 fs) of a 32-atom cell at 600 K: energy drift and
   the extrapolation warnings (atoms whose descriptors leave the training range).

Run after the demo (which trains the Cu-Au potential)::

    bash scripts/demo.sh                  # writes runs/demo/run/best.hdnnp
    .venv/bin/python examples/ase_calculator.py runs/demo/run

``--quick`` takes fewer MD steps.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # ASE's cell filter on a busy machine

import numpy as np  # noqa: E402
from ase import Atoms, units  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402


def cu3au(a: float = 3.71) -> Atoms:
    """Ordered Cu3Au (L1_2), 4-atom cubic cell, lattice constant ``a`` (Å)."""
    atoms = bulk("Cu", "fcc", a=a, cubic=True)
    atoms.symbols[0] = "Au"
    return atoms


def single_point(calc, atoms: Atoms) -> dict:
    """Energy per atom (eV), largest force (eV/Å) and pressure (GPa) of ``atoms``."""
    atoms = atoms.copy()
    atoms.calc = calc
    return {
        "energy_per_atom": atoms.get_potential_energy() / len(atoms),
        "max_force": float(np.abs(atoms.get_forces()).max()),
        "pressure_GPa": -atoms.get_stress()[:3].mean() / units.GPa,
    }


def relax_cell(calc, atoms: Atoms, fmax: float = 1e-3) -> Atoms:
    """Positions and cell relaxed together (FrechetCellFilter + BFGS, fmax in eV/Å)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=fmax, steps=200)
    return atoms


def nve(calc, atoms: Atoms, steps: int, temperature_K: float = 600.0) -> dict:
    """Velocity Verlet, 2 fs, from Maxwell-Boltzmann velocities: drift and warnings."""
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng(0))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, 2.0 * units.fs)
    e0 = atoms.get_total_energy()
    energies, warned = [], 0
    for _ in range(steps):
        dyn.run(1)
        energies.append(atoms.get_total_energy())
        warned += calc.extrapolation.n_atoms > 0
    drift = np.abs(np.array(energies) - e0).max() / len(atoms)
    return {"max_drift_meV_per_atom": 1000 * drift, "steps_with_warnings": warned}


def main(argv: list[str] | None = None) -> int:
    from hdnnp import Calculator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "potential", nargs="?", default="runs/demo/run", help="potential file or run directory"
    )
    parser.add_argument("--quick", action="store_true", help="fewer MD steps")
    args = parser.parse_args(argv)
    if not Path(args.potential).exists():
        print(
            f"{args.potential}: no potential there; train one first with "
            "'bash scripts/demo.sh' or pass a potential file or run directory",
            file=sys.stderr,
        )
        return 1
    calc = Calculator(args.potential)
    print(f"potential {args.potential}: elements {' '.join(calc.model.elements)}")

    print("\n1. Cu3Au (L1_2) at a = 3.71 Å")
    for name, c in (("hdnnp", calc), ("EMT", EMT())):
        r = single_point(c, cu3au())
        print(
            f"   {name:6s} E {r['energy_per_atom']:+.4f} eV/atom  max |F| {r['max_force']:.1e} "
            f"eV/Å  P {r['pressure_GPa']:+.2f} GPa"
        )

    print("\n2. relaxed lattice constant (FrechetCellFilter + BFGS)")
    start = cu3au(3.80)
    start.rattle(0.02, seed=1)
    for name, c in (("hdnnp", calc), ("EMT", EMT())):
        relaxed = relax_cell(c, start)
        a = np.cbrt(relaxed.get_volume())
        print(f"   {name:6s} a = {a:.4f} Å, E {relaxed.get_potential_energy() / 4:+.4f} eV/atom")

    steps = 50 if args.quick else 500
    print(f"\n3. NVE MD, 32 atoms, 600 K, {steps} x 2 fs with the potential")
    result = nve(calc, cu3au().repeat(2), steps)
    print(
        f"   max |E_tot - E_tot(0)| = {result['max_drift_meV_per_atom']:.3f} meV/atom; "
        f"{result['steps_with_warnings']} steps with extrapolation warnings"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
