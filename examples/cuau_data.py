"""EMT reference data for a Cu-Au potential, made with ASE alone (no DFT files needed).

:func:`make_dataset` writes one extended XYZ file per group of structures, each frame
labelled by ASE's EMT calculator with its energy (eV), forces (eV/Å) and stress
(eV/Å^3), and ``info["group"]`` naming the group:

========== =========================================================================
group      structures
========== =========================================================================
crystal    fcc Cu, fcc Au, ordered Cu3Au (L1_2), CuAu (L1_0), random fcc alloys
           (x_Au = 0.25, 0.5, 0.75), 32 atoms, lattice scaled by -3 % .. +5 %
strained   the same crystals under random strains (2.5 % per component)
rattled    the crystals (32 atoms, three of them also with 108) with Gaussian
           displacements of 0.03-0.12 Å
surface    fcc(111) slabs (36 atoms, 9 Å vacuum, periodic cell) of random alloys
           (x_Au = 0, 0.25, 0.5, 0.75, 1)
melt       Langevin MD (2 fs) of 32-atom random alloys (x_Au = 0.25, 0.5, 0.75) at
           2200 K, every 25th step after 150 steps
quench     those melts cooled linearly from 2200 K to 300 K in 1000 steps, every 40th
========== =========================================================================

Everything is seeded: the same ``seed`` and ``scale`` give the same files. Lattice
constants follow Vegard's law between EMT's fcc Cu (3.590 Å) and Au (4.055 Å).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta

#: EMT equilibrium fcc lattice constants, Å (energy minimum of the 4-atom cubic cell).
A_CU, A_AU = 3.590, 4.055

GROUPS = ("crystal", "strained", "rattled", "surface", "melt", "quench")
MELT_K, QUENCH_K = 2200.0, 300.0


def lattice_constant(x_au: float) -> float:
    """Vegard's-law fcc lattice constant of Cu(1-x)Au(x), Å."""
    return (1.0 - x_au) * A_CU + x_au * A_AU


def random_alloy(x_au: float, repeat: int, rng: np.random.Generator) -> Atoms:
    """Cubic fcc supercell (4 repeat^3 atoms) with a random fraction ``x_au`` of Au."""
    atoms = bulk("Cu", "fcc", a=lattice_constant(x_au), cubic=True).repeat(repeat)
    n_au = round(x_au * len(atoms))
    atoms.symbols[rng.choice(len(atoms), n_au, replace=False)] = "Au"
    return atoms


def l12_cu3au(repeat: int) -> Atoms:
    """Ordered Cu3Au (L1_2: Au on the cube corners), 4 repeat^3 atoms."""
    atoms = bulk("Cu", "fcc", a=lattice_constant(0.25), cubic=True)
    atoms.symbols[0] = "Au"
    return atoms.repeat(repeat)


def l10_cuau(repeat: int) -> Atoms:
    """Ordered CuAu (L1_0: alternating (001) planes, c/a = 0.91), 4 repeat^3 atoms."""
    a = lattice_constant(0.5)
    atoms = bulk("Cu", "fcc", a=a, cubic=True)
    atoms.symbols[[0, 1]] = "Au"  # the z = 0 plane
    atoms.set_cell(np.diag([a * 1.03, a * 1.03, a * 0.94]), scale_atoms=True)
    return atoms.repeat(repeat)


def crystals(repeat: int, rng: np.random.Generator) -> list[Atoms]:
    """The seven crystals: Cu, Au, L1_2 Cu3Au, L1_0 CuAu, random alloys x = 1/4, 1/2, 3/4."""
    pure = [random_alloy(0.0, repeat, rng), random_alloy(1.0, repeat, rng)]
    ordered = [l12_cu3au(repeat), l10_cuau(repeat)]
    return pure + ordered + [random_alloy(x, repeat, rng) for x in (0.25, 0.5, 0.75)]


def labelled(atoms: Atoms, group: str) -> Atoms:
    """A copy of ``atoms`` with EMT energy (eV), forces (eV/Å), stress (eV/Å^3) as results."""
    atoms = Atoms(atoms.symbols, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    atoms.calc = EMT()
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    stress = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    atoms.info["group"] = group
    return atoms


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1 << 30))


def volume_scan(rng: np.random.Generator, count: int) -> Iterator[Atoms]:
    """Crystals with the lattice scaled isotropically by -3 % .. +5 %, lightly rattled."""
    for atoms in crystals(2, rng):
        for factor in np.linspace(0.97, 1.05, count):
            scaled = atoms.copy()
            scaled.set_cell(atoms.cell * factor, scale_atoms=True)
            scaled.rattle(0.02, seed=_seed(rng))
            yield scaled


def strained(rng: np.random.Generator, count: int) -> Iterator[Atoms]:
    """Crystals under random (non-symmetric) strains of 2.5 % standard deviation."""
    for atoms in crystals(2, rng):
        for _ in range(count):
            out = atoms.copy()
            out.set_cell(atoms.cell @ (np.eye(3) + rng.normal(0, 0.025, (3, 3))), True)
            out.rattle(0.03, seed=_seed(rng))
            yield out


def rattled(rng: np.random.Generator, count: int) -> Iterator[Atoms]:
    """Crystals with Gaussian displacements of 0.03-0.12 Å (three also with 108 atoms)."""
    cells = [(a, count) for a in crystals(2, rng)]
    cells += [(a, 2) for a in crystals(3, rng)[::3]]
    for atoms, n in cells:
        for stdev in np.linspace(0.03, 0.12, n):
            out = atoms.copy()
            out.set_cell(atoms.cell * rng.uniform(0.99, 1.03), scale_atoms=True)
            out.rattle(stdev, seed=_seed(rng))
            yield out


def surfaces(rng: np.random.Generator, count: int) -> Iterator[Atoms]:
    """fcc(111) slabs, 3x3x4 atoms, 9 Å vacuum, x_Au in 0, 1/4, 1/2, 3/4, 1 at random
    sites, rattled 0.08 Å."""
    for _ in range(count):
        x_au = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0])
        slab = fcc111("Cu", (3, 3, 4), a=lattice_constant(x_au), vacuum=4.5, periodic=True)
        slab.symbols[rng.choice(len(slab), round(x_au * len(slab)), replace=False)] = "Au"
        slab.rattle(0.08, seed=_seed(rng))
        yield slab


def md_frames(
    atoms: Atoms, temperatures: np.ndarray, every: int, rng: np.random.Generator
) -> Iterator[Atoms]:
    """Langevin MD with EMT (2 fs) following ``temperatures`` (K, one per step); every
    ``every``-th configuration."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    if not atoms.get_momenta().any():
        thermalize_momenta(atoms, temperatures[0], rng=rng)
        Stationary(atoms)
    dyn = Langevin(
        atoms, 2.0 * units.fs, temperature_K=temperatures[0], friction=0.02, fixcm=False, rng=rng
    )
    for step, temperature in enumerate(temperatures, start=1):
        dyn.set_temperature(temperature_K=float(temperature))
        dyn.run(1)
        if step % every == 0:
            yield atoms.copy()


def melts_and_quenches(rng: np.random.Generator, scale: float) -> tuple[list, list]:
    """Melt 32-atom alloys (x_Au = 0.25, 0.5, 0.75) at 2200 K, then quench them to 300 K."""
    melt, quench = [], []
    n_melt, n_quench = max(int(600 * scale), 200), max(int(1000 * scale), 200)
    for x_au in (0.25, 0.5, 0.75):
        atoms = random_alloy(x_au, 2, rng)
        atoms.set_cell(atoms.cell * 1.03, scale_atoms=True)  # room for the liquid
        hot = list(md_frames(atoms, np.full(n_melt, MELT_K), 25, rng))
        melt += hot[6:]  # the first 150 steps still remember the crystal
        quench += list(md_frames(hot[-1], np.linspace(MELT_K, QUENCH_K, n_quench), 40, rng))
    return melt, quench


def generate(seed: int = 0, scale: float = 1.0) -> dict[str, list[Atoms]]:
    """EMT-labelled frames of every group; ``scale`` < 1 makes fewer (for quick runs)."""
    rng = np.random.default_rng(seed)
    count = max(round(6 * scale), 2)
    melt, quench = melts_and_quenches(rng, scale)
    groups = {
        "crystal": list(volume_scan(rng, count)),
        "strained": list(strained(rng, max(round(4 * scale), 1))),
        "rattled": list(rattled(rng, count)),
        "surface": list(surfaces(rng, max(round(16 * scale), 2))),
        "melt": melt,
        "quench": quench,
    }
    return {name: [labelled(a, name) for a in frames] for name, frames in groups.items()}


def make_dataset(folder: str | Path, seed: int = 0, scale: float = 1.0) -> list[Path]:
    """Write ``<group>.extxyz`` files into ``folder`` (kept when made with the same seed and
    scale, see ``manifest.json``); return their paths."""
    import ase.io

    folder = Path(folder)
    paths = [folder / f"{name}.extxyz" for name in GROUPS]
    manifest = folder / "manifest.json"
    wanted = {"seed": seed, "scale": scale, "groups": list(GROUPS)}
    if manifest.exists() and json.loads(manifest.read_text()) == wanted:
        if all(p.exists() for p in paths):
            return paths
    folder.mkdir(parents=True, exist_ok=True)
    for name, frames in generate(seed, scale).items():
        ase.io.write(folder / f"{name}.extxyz", frames, format="extxyz")
    manifest.write_text(json.dumps(wanted) + "\n")
    return paths


def summary(paths: list[Path]) -> str:
    """One line per file: frames, atoms, energy range (eV/atom), largest force (eV/Å)."""
    import ase.io

    lines = []
    for path in paths:
        frames = ase.io.read(path, ":")
        e = [a.get_potential_energy() / len(a) for a in frames]
        f_max = max(float(np.abs(a.get_forces()).max()) for a in frames)
        lines.append(
            f"  {path.stem:9s} {len(frames):4d} frames {sum(map(len, frames)):6d} atoms  "
            f"E {min(e):+.3f} .. {max(e):+.3f} eV/atom  |F| <= {f_max:.1f} eV/Å"
        )
    return "\n".join(lines)
