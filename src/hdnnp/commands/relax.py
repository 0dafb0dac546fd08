"""``hdnnp relax``: relax a structure with a potential; optionally its equation of state."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .common import (
    Command,
    UsageError,
    add_device_options,
    add_model_argument,
    check_device,
    load_model,
    read_atoms,
)

EXAMPLES = """\
examples:
  # relax positions and cell of a POSCAR; the result goes to POSCAR-relaxed.extxyz
  hdnnp relax best.hdnnp POSCAR

  # the last frame of an MD run, positions only, to 1 meV/Angstrom
  hdnnp relax runs/cu/ md.extxyz@-1 --fixed-cell --fmax 0.001 -o final.extxyz

  # relax at 10 GPa, then the Birch-Murnaghan equation of state (11 volumes within +-4 %)
  hdnnp relax best.hdnnp cu.cif -o cu/relaxed.extxyz --pressure 10 --eos --eos-points 11 \\
      --eos-strain 0.04

The relaxed structure is written as extended XYZ with energy, forces and stress. With
--eos, eos.png and eos.json (volumes, energies, V0, E0, B0 in GPa, B0') are written beside
it; the cell is scaled isotropically about the relaxed structure by volumetric strains
(0.05 = +-5 % in volume) and the positions relaxed at each volume. Exit status 1 when the
relaxation did not converge within --max-steps (the last structure is still written).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..relax import OPTIMIZERS

    add_model_argument(parser)
    parser.add_argument(
        "structure",
        metavar="STRUCTURE",
        help="structure file (any ASE format or n2p2 input.data), optionally PATH@INDEX "
        "(default: the last frame)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="relaxed structure, extended XYZ (default: STEM-relaxed.extxyz here)",
    )
    parser.add_argument(
        "--fmax",
        type=float,
        default=0.01,
        metavar="EV_PER_A",
        help="largest force at convergence, eV/Angstrom; the cell converges when "
        "|stress + pressure| * volume / atoms is below it too (default: %(default)s)",
    )
    parser.add_argument("--fixed-cell", action="store_true", help="relax the positions only")
    parser.add_argument(
        "--pressure",
        type=float,
        default=0.0,
        metavar="GPA",
        help="hydrostatic pressure for the cell relaxation, GPa (default: %(default)s)",
    )
    parser.add_argument(
        "--max-steps", type=int, default=500, help="optimiser steps at most (default: %(default)s)"
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="bfgs",
        help="bfgs (few steps near a minimum) or fire (large or far-from-minimum "
        "structures) (default: %(default)s)",
    )
    parser.add_argument(
        "--symmetry",
        type=float,
        metavar="TOL",
        help="keep the space group the structure has within TOL Angstrom: symmetrise it "
        "to that group, then relax with the symmetry fixed (needs spglib; e.g. 1e-3 for "
        "an ideal crystal, 0.1-0.3 for a rattled or MD snapshot)",
    )
    parser.add_argument("--log", metavar="FILE", help="optimiser log file ('-' for stdout)")
    parser.add_argument("--eos", action="store_true", help="also fit the equation of state")
    parser.add_argument(
        "--eos-points", type=int, default=9, help="volumes of the scan (default: %(default)s)"
    )
    parser.add_argument(
        "--eos-strain",
        type=float,
        default=0.05,
        help="largest volumetric strain of the scan (default: %(default)s = +-5 %% in volume)",
    )
    add_device_options(parser, "n2p2 files: the potential directory and input.data")


def _output_path(args: argparse.Namespace) -> Path:
    from ..io import split_spec

    if args.output:
        out = Path(args.output)
        if out.is_dir():
            raise UsageError(f"-o {out}: is a directory; give a file name such as relaxed.extxyz")
        return out
    return Path(f"{Path(split_spec(args.structure)[0]).stem}-relaxed.extxyz")


def _check_options(args: argparse.Namespace) -> None:
    if not args.fmax > 0:
        raise UsageError(f"--fmax must be positive (eV/Angstrom), got {args.fmax}")
    if args.max_steps < 0:
        raise UsageError(f"--max-steps must not be negative, got {args.max_steps}")
    if args.fixed_cell and args.pressure != 0.0:
        raise UsageError(
            "--pressure acts on the cell and has no effect with --fixed-cell; leave out one of them"
        )
    if args.symmetry is not None and not args.symmetry > 0:
        raise UsageError(f"--symmetry must be a positive tolerance (Angstrom), got {args.symmetry}")
    if args.eos and args.eos_points < 5:
        raise UsageError(
            f"--eos-points {args.eos_points}: the Birch-Murnaghan fit has 4 parameters; "
            "give at least 5 volumes"
        )
    if args.eos and not 0 < args.eos_strain <= 0.3:
        raise UsageError(
            f"--eos-strain {args.eos_strain}: give a volumetric strain in (0, 0.3], e.g. 0.05"
        )


def _check_structure(atoms, model, args: argparse.Namespace) -> None:
    from ..relax import is_periodic

    unknown = sorted(set(atoms.get_chemical_symbols()) - set(model.elements))
    if unknown:
        raise UsageError(
            f"{args.structure}: elements {', '.join(unknown)} are not known to the potential "
            f"({', '.join(model.elements)})\n  fix: use a potential trained for them"
        )
    if is_periodic(atoms):
        return
    needs = "--eos" if args.eos else None if args.fixed_cell else "a cell relaxation"
    if needs:
        raise UsageError(
            f"{args.structure}: {needs} needs a structure periodic in all three directions "
            f"(pbc = {atoms.pbc.tolist()})\n  fix: give a periodic cell, or relax the "
            "positions only with --fixed-cell (without --eos)"
        )


def _relaxed(atoms, args: argparse.Namespace):
    from ..relax import NotConvergedWarning, relax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)  # reported by _print_relaxed
        return relax(
            atoms,
            fmax=args.fmax,
            fixed_cell=args.fixed_cell,
            max_steps=args.max_steps,
            pressure_gpa=args.pressure,
            optimizer=args.optimizer,
            log=args.log,
            symmetry=args.symmetry,
        )


def _symmetrized(atoms, tolerance: float):
    from ..relax import space_group, symmetrize

    try:
        out = symmetrize(atoms, tolerance)
    except ImportError as err:
        raise UsageError(f"--symmetry: {err}") from None
    print(f"space group within {tolerance:g} Å: {space_group(out, tolerance)} (kept)")
    return out


def _write_structure(path: Path, atoms) -> None:
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    from ..fileio import atomic_write

    copy = atoms.copy()
    keys = ("energy", "free_energy", "forces", "stress")
    results = {k: v for k, v in atoms.calc.results.items() if k in keys}
    copy.calc = SinglePointCalculator(copy, **results)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        ase.io.write(handle, copy, format="extxyz")


def _print_relaxed(result, args: argparse.Namespace) -> None:
    from ..relax import is_periodic, lattice_parameters

    atoms, n = result.atoms, len(result.atoms)
    moved = "positions" if args.fixed_cell else "positions and cell"
    state = "converged" if result.converged else "NOT converged"
    print(f"relaxed {moved} with {args.optimizer.upper()}: {state} after {result.steps} steps")
    print(f"energy        {result.energy:.6f} eV ({result.energy / n:.6f} eV/atom)")
    print(f"max force     {result.max_force:.3g} eV/Å (fmax {args.fmax})")
    if is_periodic(atoms):
        p = lattice_parameters(atoms)
        print(f"max stress    {result.max_stress:.3g} GPa (pressure {result.pressure:.4g} GPa)")
        print(f"a b c         {p.a:.5f} {p.b:.5f} {p.c:.5f} Å")
        print(f"alpha beta gamma  {p.alpha:.3f} {p.beta:.3f} {p.gamma:.3f} deg")
        volume = atoms.get_volume()
        print(f"volume        {volume:.4f} Å^3 ({volume / n:.4f} Å^3/atom)")
    if not result.converged:
        print(
            f"warning: not converged within --max-steps {args.max_steps}; the last structure "
            "is written. fix: raise --max-steps, loosen --fmax or try --optimizer fire",
            file=sys.stderr,
        )


def _equation_of_state(atoms, out: Path, args: argparse.Namespace) -> None:
    from ..relax import birch_murnaghan_fit, eos_scan, plot_eos, write_eos_json

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan = eos_scan(
            atoms, atoms.calc, n_points=args.eos_points, max_strain=args.eos_strain, fmax=args.fmax
        )
        try:
            fit = birch_murnaghan_fit(scan.volumes, scan.energies)
        except ValueError as err:
            raise UsageError(f"{err}\n  fix: change --eos-strain or check the potential") from None
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    n = scan.n_atoms
    print(f"equation of state (third-order Birch-Murnaghan, {len(scan.volumes)} volumes):")
    print(f"  V0  {fit.v0:.4f} Å^3 ({fit.v0 / n:.4f} Å^3/atom)")
    print(f"  E0  {fit.e0:.6f} eV ({fit.e0 / n:.6f} eV/atom)")
    print(f"  B0  {fit.b0:.2f} GPa")
    print(f"  B0' {fit.b0_prime:.3f}")
    print(f"  residual RMS {fit.residual_rms * 1000:.3g} meV")
    png = plot_eos(scan.volumes, scan.energies, fit, out.parent / "eos.png")
    data = write_eos_json(out.parent / "eos.json", scan, fit)
    print(f"wrote {png} and {data}")


def run(args: argparse.Namespace) -> int:
    """Relax a structure (and optionally fit its equation of state) with a potential."""
    from ..calculator import Calculator

    _check_options(args)
    out = _output_path(args)
    device = check_device(args.device)
    model = load_model(args.model, args.units)
    atoms = read_atoms(args.structure, args.units)
    _check_structure(atoms, model, args)
    atoms.calc = Calculator(model, device=device, dtype=args.dtype)
    if args.symmetry is not None:
        atoms = _symmetrized(atoms, args.symmetry)
    result = _relaxed(atoms, args)
    _print_relaxed(result, args)
    _write_structure(out, result.atoms)
    print(f"wrote the relaxed structure to {out}")
    if args.eos:
        _equation_of_state(result.atoms, out, args)
    return 0 if result.converged else 1


COMMAND = Command(
    add_arguments,
    run,
    "relax a structure (positions and cell) and optionally fit its equation of state",
    EXAMPLES,
)
