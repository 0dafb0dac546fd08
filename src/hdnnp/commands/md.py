"""``hdnnp md``: molecular dynamics with a potential (see :mod:`hdnnp.md`)."""

from __future__ import annotations

import argparse
import math
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
  # NVT at 300 K (Bussi thermostat), 1 fs, 10 ps, a frame every 100 steps
  hdnnp md best.hdnnp water.extxyz --ensemble nvt --temperature 300 --timestep 1 \\
      --steps 10000 --trajectory md.extxyz --every 100 --log thermo.csv

  # NPT at 1 GPa with a fully flexible cell, heating from 300 K to 1500 K
  hdnnp md runs/sio2/ quartz.cif --ensemble npt --barostat aniso --temperature 300:1500 \\
      --pressure 1 --steps 50000 --trajectory heat.extxyz

  # a melt-quench protocol of several stages, and its continuation after an interruption
  hdnnp md best.hdnnp glass.extxyz --protocol melt_quench.yaml --trajectory mq.extxyz
  hdnnp md best.hdnnp glass.extxyz --protocol melt_quench.yaml --trajectory mq.extxyz --restart

A protocol file lists stages (keys: ensemble, steps, temperature, pressure, thermostat,
barostat, tdamp_fs, pdamp_fs; a ramp is [start, end]):

  timestep_fs: 2.0
  stages:
    - {ensemble: nvt, steps: 5000, temperature: 300}
    - {ensemble: nvt, steps: 20000, temperature: [300, 3000]}
    - {ensemble: npt, steps: 20000, temperature: 3000, pressure: 0}
    - {ensemble: npt, steps: 50000, temperature: [3000, 300], pressure: 0}

Thermo CSV columns: step,time_fs,temperature_K,epot_eV,ekin_eV,etot_eV,pressure_GPa,
volume_A3,extrapolations. The trajectory is extended XYZ (OVITO and ASE read it) with
velocities, energies, forces and stress. A restart file (TRAJECTORY.restart.json) is
written with every frame; --restart continues from it with the same options.
Atoms whose descriptors leave the training range are counted each step
(extrapolations); --max-warnings N stops the run when a step has more than N.
"""

STAGE_KEYS = (
    "ensemble",
    "steps",
    "temperature",
    "pressure",
    "thermostat",
    "barostat",
    "tdamp_fs",
    "pdamp_fs",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..md import BAROSTATS, ENSEMBLES, THERMOSTATS

    add_model_argument(parser)
    parser.add_argument(
        "structure", metavar="STRUCTURE", help="start structure (any ASE format, PATH@INDEX)"
    )
    stage = parser.add_argument_group("one stage (or --protocol)")
    stage.add_argument("--ensemble", choices=ENSEMBLES, default="nvt")
    stage.add_argument("--temperature", metavar="K[:K_END]", help="target temperature or ramp")
    stage.add_argument("--pressure", metavar="GPA[:GPA_END]", help="target pressure or ramp")
    stage.add_argument("--steps", type=int, default=1000, help="number of steps (default 1000)")
    stage.add_argument("--thermostat", choices=THERMOSTATS, default="bussi")
    stage.add_argument("--barostat", choices=BAROSTATS, default="iso")
    stage.add_argument("--tdamp", type=float, default=100.0, metavar="FS")
    stage.add_argument("--pdamp", type=float, default=1000.0, metavar="FS")
    parser.add_argument("--protocol", metavar="YAML", help="stages from a file (see below)")
    parser.add_argument("--timestep", type=float, metavar="FS", help="time step (default 1 fs)")
    parser.add_argument("--trajectory", metavar="OUT.extxyz", help="trajectory file")
    parser.add_argument("--every", type=int, default=100, help="trajectory interval (steps)")
    parser.add_argument("--log", metavar="THERMO.csv", help="thermo CSV file")
    parser.add_argument("--log-every", type=int, default=10, help="thermo interval (steps)")
    parser.add_argument("--restart", action="store_true", help="continue from the restart file")
    parser.add_argument(
        "--max-warnings",
        type=int,
        metavar="N",
        help="stop when a step has more than N descriptor values outside the training range",
    )
    parser.add_argument("--seed", type=int, default=0, help="velocities and thermostat noise")
    parser.add_argument("--skin", type=float, default=1.0, help="neighbour-list skin, Å")
    add_device_options(parser, "an n2p2 MODEL or STRUCTURE input.data")


def _range(text: str | None, name: str) -> tuple[float, float] | None:
    """'300' -> (300, 300); '300:1500' -> (300, 1500)."""
    if text is None:
        return None
    try:
        parts = [float(v) for v in str(text).split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or not all(math.isfinite(v) for v in parts):
        raise UsageError(f"--{name} {text!r}: give a number or START:END, e.g. 300 or 300:1500")
    return (parts[0], parts[-1])


def _ramp(value, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
    ):
        return (float(value[0]), float(value[1]))
    raise UsageError(f"{where}: give a number or [start, end], got {value!r}")


def _stage_from_dict(entry, where: str):
    from ..md import Stage

    if not isinstance(entry, dict):
        raise UsageError(f"{where}: a stage is a mapping such as {{ensemble: nvt, steps: 1000}}")
    unknown = sorted(set(entry) - set(STAGE_KEYS))
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(STAGE_KEYS)}"
        )
    values = dict(entry)
    values["temperature"] = _ramp(entry.get("temperature"), f"{where}: temperature")
    values["pressure"] = _ramp(entry.get("pressure"), f"{where}: pressure")
    try:
        return Stage(**values)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{where}: {err}") from None


def read_protocol(path: str) -> tuple[list, float | None]:
    """Stages and time step (or None) of a protocol YAML file."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"cannot read the protocol {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        raise UsageError(f"{path}: a protocol needs a list 'stages' (see hdnnp md --help)")
    unknown = sorted(set(data) - {"stages", "timestep_fs"})
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(unknown)}; valid: stages, timestep_fs")
    stages = [_stage_from_dict(s, f"{path}: stage {k + 1}") for k, s in enumerate(data["stages"])]
    return stages, data.get("timestep_fs")


def stages_of(args: argparse.Namespace) -> tuple[list, float]:
    """The stages and time step the options describe."""
    from ..md import Stage

    if args.protocol:
        stages, timestep = read_protocol(args.protocol)
        return stages, float(args.timestep or timestep or 1.0)
    try:
        stage = Stage(
            args.ensemble,
            args.steps,
            _range(args.temperature, "temperature"),
            _range(args.pressure, "pressure"),
            args.thermostat,
            args.barostat,
            args.tdamp,
            args.pdamp,
        )
    except ValueError as err:
        raise UsageError(f"{err} (give --temperature K, and --pressure GPA for npt)") from None
    return [stage], float(args.timestep or 1.0)


def _settings(args: argparse.Namespace, timestep: float):
    from ..md import MDSettings

    for name in ("every", "log_every"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if timestep <= 0:
        raise UsageError(f"the time step must be > 0 fs, got {timestep}")
    return MDSettings(
        timestep_fs=timestep,
        trajectory=args.trajectory,
        every=args.every,
        log=args.log,
        log_every=args.log_every,
        seed=args.seed,
        max_warnings=args.max_warnings,
    )


class _Bar:
    """tqdm progress with temperature, energy, extrapolations, ns/day and atom-steps/s."""

    def __init__(self, total: int, start: int, n_atoms: int, timestep: float):
        from tqdm.auto import tqdm

        self.n_atoms, self.timestep = n_atoms, timestep
        self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def __call__(self, step: int, row) -> None:
        self.bar.update(step - self.bar.n)
        rate = self.bar.format_dict.get("rate") or 0.0
        self.bar.set_postfix_str(
            f"T={row[2]:.0f} K Epot={row[3] / self.n_atoms:.4f} eV/atom extrap={int(row[8])} "
            f"{rate * self.timestep * 86400e-6:.3g} ns/day {rate * self.n_atoms:.3g} atom-steps/s",
            refresh=False,
        )

    def close(self) -> None:
        self.bar.close()


def _report(summary, settings, n_atoms: int) -> None:
    print(f"steps: {summary.steps}, wall {summary.wall_s:.1f} s, {summary.ns_per_day:.3g} ns/day, "
          f"{summary.atom_steps_per_s:.4g} atom-steps/s ({n_atoms} atoms)")  # fmt: skip
    if summary.max_drift_eV_per_atom is not None:
        print(f"NVE: max |E_tot - E_tot(start)| = {summary.max_drift_eV_per_atom:.3g} eV/atom")
    if summary.extrapolating_steps:
        print(f"extrapolation in {summary.extrapolating_steps} steps (up to "
              f"{summary.max_extrapolating_atoms} atoms); worst:")  # fmt: skip
        for _, text in summary.worst[:5]:
            print("  " + text)
    else:
        print("no extrapolation: all descriptors stayed within the training range")
    for label, path in (("trajectory", settings.trajectory), ("thermo", settings.log),
                        ("restart", settings.restart_path())):  # fmt: skip
        if path:
            print(f"{label}: {path}")
    if summary.stopped:
        print(f"stopped: {summary.stopped}")


def handler(args: argparse.Namespace) -> int:
    """Run MD with a potential."""
    from .. import Calculator
    from ..md import restart_atoms, run_md

    device = check_device(args.device)
    stages, timestep = stages_of(args)
    settings = _settings(args, timestep)
    if args.restart:
        if settings.restart_path() is None:
            raise UsageError("--restart needs the --trajectory (or --log) of the run to continue")
        try:
            atoms = restart_atoms(settings)
        except (OSError, ValueError) as err:
            raise UsageError(f"{err}\n  fix: run without --restart first") from None
    else:
        atoms = read_atoms(args.structure, args.units)
    model = load_model(args.model, args.units)
    try:
        calc = Calculator(model, device=device, dtype=args.dtype, skin=args.skin)
    except ValueError as err:
        raise UsageError(str(err)) from None
    total = sum(s.steps for s in stages)
    start = _restart_step(settings) if args.restart else 0
    bar = _Bar(total, start, len(atoms), timestep)
    try:
        summary = run_md(atoms, calc, stages, settings, restart=args.restart, on_step=bar)
    except ValueError as err:
        raise UsageError(f"{err}") from None
    finally:
        bar.close()
    _report(summary, settings, len(atoms))
    if summary.stopped.startswith("interrupted"):
        return 130
    return 1 if summary.stopped else 0


def _restart_step(settings) -> int:
    from ..md import load_restart

    return int(load_restart(settings.restart_path())["step"])


COMMAND = Command(
    add_arguments,
    handler,
    "molecular dynamics: NVE, NVT, NPT with ramps and protocols; trajectory, thermo, restart",
    EXAMPLES,
)
