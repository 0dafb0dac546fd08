r"""Molecular dynamics with a potential: NVE, NVT and NPT stages with ramps, restartable.

A run is a sequence of :class:`Stage` s (e.g. a melt-quench: NVT heat, NPT hold, NVT cool
ramp), each integrated by an ASE integrator driven by :class:`hdnnp.Calculator`:

=========================  ==================================================================
ensemble / thermostat      integrator (ASE)
=========================  ==================================================================
``nve``                    velocity Verlet (``VelocityVerlet``)
``nvt`` ``langevin``       Langevin, friction ``1/tdamp`` (``Langevin``)
``nvt`` ``bussi``          stochastic velocity rescaling, Bussi, Donadio & Parrinello,
                           J. Chem. Phys. 126, 014101 (2007) (``Bussi``)
``nvt`` ``nose-hoover``    Nose-Hoover chain, Martyna, Klein & Tuckerman, J. Chem. Phys. 97,
                           2635 (1992) (``NoseHooverChainNVT``)
``npt`` ``iso``            MTK barostat, isotropic volume (``IsotropicMTKNPT``), Martyna,
                           Tobias & Klein, J. Chem. Phys. 101, 4177 (1994)
``npt`` ``aniso``          MTK barostat, fully flexible cell (``MTKNPT``)
=========================  ==================================================================

NPT stages use a Nose-Hoover chain thermostat. Temperatures (K) and pressures (GPa) of a
stage may ramp linearly from a start to an end value over the stage; the target of step
n (1-based within the stage) is ``start + (end - start) n / steps``. As in LAMMPS, the
thermostat and barostat masses follow the current target temperature.

Thermo rows (CSV, :data:`THERMO_HEADER`) hold the instantaneous temperature
``T = 2 E_kin / (3 N k_B)``, the potential, kinetic and total energies (eV), the pressure
``P = -tr(sigma)/3`` including the kinetic term (GPa; NaN for non-periodic systems), the
volume (Å^3) and the number of atoms whose descriptors extrapolate
(:mod:`hdnnp.extrapolation`).

Restart: with every trajectory frame (and at the end of a run or on Ctrl-C) the full
state is written atomically to a JSON restart file: positions, momenta and cell at full
precision, the stage and step, the thermostat/barostat variables, the random generator
state, and the sizes of the trajectory and thermo files at that moment. :func:`run_md`
with ``restart=True`` truncates those files to the recorded sizes and continues, so a
restarted run reproduces the uninterrupted one (exactly for the deterministic
integrators and, through the saved generator state, for the stochastic ones).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units

from .extrapolation import ExtrapolationReport
from .fileio import atomic_write_text

ENSEMBLES = ("nve", "nvt", "npt")
THERMOSTATS = ("bussi", "langevin", "nose-hoover")
BAROSTATS = ("iso", "aniso")
THERMO_HEADER = (
    "step,time_fs,temperature_K,epot_eV,ekin_eV,etot_eV,pressure_GPa,volume_A3,extrapolations"
)
RESTART_FORMAT = "hdnnp-md-restart"
RESTART_VERSION = 1

# private state of ASE's integrators saved in restart files (absent names are skipped)
_DYN_STATE = ("_eps", "_p_eps", "_cell0", "_volume0", "_p_g")
_CHAIN_STATE = ("_eta", "_p_eta", "_xi", "_p_xi")


@dataclass(frozen=True)
class Stage:
    """One part of an MD protocol.

    Attributes:
        ensemble: ``nve``, ``nvt`` or ``npt``.
        steps: number of time steps.
        temperature: target temperature, K, as (start, end); required for nvt and npt.
        pressure: target pressure, GPa, as (start, end); required for npt.
        thermostat: ``bussi``, ``langevin`` or ``nose-hoover`` (nvt only; npt uses a
            Nose-Hoover chain).
        barostat: ``iso`` (volume only) or ``aniso`` (the full cell).
        tdamp_fs: thermostat time constant, fs (Langevin friction = 1/tdamp).
        pdamp_fs: barostat time constant, fs.
    """

    ensemble: str
    steps: int
    temperature: tuple[float, float] | None = None
    pressure: tuple[float, float] | None = None
    thermostat: str = "bussi"
    barostat: str = "iso"
    tdamp_fs: float = 100.0
    pdamp_fs: float = 1000.0

    def __post_init__(self):
        problems = stage_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def target(self, step: int) -> tuple[float | None, float | None]:
        """(temperature K, pressure GPa) targets after ``step`` (1-based) steps."""
        frac = step / self.steps if self.steps else 1.0
        lerp = (lambda v: v[0] + (v[1] - v[0]) * frac) if self.steps else (lambda v: v[1])
        return (
            None if self.temperature is None else lerp(self.temperature),
            None if self.pressure is None else lerp(self.pressure),
        )


def stage_problems(stage: Stage) -> list[str]:
    """What is wrong with a stage (empty when it is valid)."""
    problems = []
    if stage.ensemble not in ENSEMBLES:
        problems.append(f"ensemble must be one of {', '.join(ENSEMBLES)}, got {stage.ensemble!r}")
    if stage.steps < 0:
        problems.append(f"steps must be >= 0, got {stage.steps}")
    if stage.ensemble in ("nvt", "npt") and stage.temperature is None:
        problems.append(f"{stage.ensemble} needs a temperature")
    if stage.temperature is not None and min(stage.temperature) <= 0:
        problems.append(f"temperatures must be > 0 K, got {stage.temperature}")
    if stage.ensemble == "npt" and stage.pressure is None:
        problems.append("npt needs a pressure")
    if stage.thermostat not in THERMOSTATS:
        problems.append(f"thermostat must be one of {', '.join(THERMOSTATS)}")
    if stage.barostat not in BAROSTATS:
        problems.append(f"barostat must be one of {', '.join(BAROSTATS)}")
    if stage.tdamp_fs <= 0 or stage.pdamp_fs <= 0:
        problems.append("tdamp_fs and pdamp_fs must be > 0 fs")
    return problems


@dataclass(frozen=True)
class MDSettings:
    """Settings of a run shared by all stages.

    Attributes:
        timestep_fs: time step, fs.
        trajectory: extended XYZ file written every ``every`` steps (None: none).
        every: trajectory (and restart) interval in steps.
        log: thermo CSV file (None: none).
        log_every: thermo interval in steps.
        restart_file: restart JSON; default: the trajectory (or log) path + ``.restart.json``.
        seed: seed of initial velocities and stochastic thermostats.
        initial_temperature: Maxwell-Boltzmann velocities at this temperature, K, when the
            structure has no velocities (default: the first stage's start temperature).
        max_warnings: stop when a step has more extrapolation warnings (descriptor values
            outside the training range) than this; None never stops (LAMMPS ``maxew``).
    """

    timestep_fs: float = 1.0
    trajectory: str | None = None
    every: int = 100
    log: str | None = None
    log_every: int = 10
    restart_file: str | None = None
    seed: int = 0
    initial_temperature: float | None = None
    max_warnings: int | None = None

    def restart_path(self) -> Path | None:
        if self.restart_file:
            return Path(self.restart_file)
        base = self.trajectory or self.log
        return None if base is None else Path(str(base) + ".restart.json")


@dataclass
class MDSummary:
    """What a run did.

    Attributes:
        steps: steps integrated (in total, including those before a restart).
        wall_s: wall time of this call, s.
        atom_steps_per_s, ns_per_day: speed of this call.
        extrapolating_steps: steps with at least one extrapolating atom.
        max_extrapolating_atoms: the most extrapolating atoms in one step.
        worst: (excess, description) of the steps with the worst extrapolation, worst first.
        stopped: why the run ended early ("" when it completed).
        max_drift_eV_per_atom: max |E_tot - E_tot(0)| / N over NVE stages (or None).
    """

    steps: int = 0
    wall_s: float = 0.0
    atom_steps_per_s: float = 0.0
    ns_per_day: float = 0.0
    extrapolating_steps: int = 0
    max_extrapolating_atoms: int = 0
    worst: list[tuple[float, str]] = field(default_factory=list)
    stopped: str = ""
    max_drift_eV_per_atom: float | None = None


class ExtrapolationLimit(RuntimeError):
    """Raised inside a run when a step has more warnings than ``max_warnings``."""


# --------------------------------------------------------------------------- integrators


def _nhc_retarget(dyn, temperature: float) -> None:
    """Set the target temperature of a Nose-Hoover chain / MTK integrator (masses too)."""
    from ase.md.nose_hoover_chain import NoseHooverChainThermostat

    old = dyn._thermostat
    new = NoseHooverChainThermostat(
        num_atoms_global=old._num_atoms_global,
        masses=old._masses,
        temperature_K=temperature,
        tdamp=old._tdamp,
        tchain=old._tchain,
        tloop=old._tloop,
    )
    new._eta, new._p_eta = old._eta, old._p_eta
    dyn._thermostat = new
    baro = getattr(dyn, "_barostat", None)
    if baro is not None:
        kwargs = {"mask": dyn.mask} if hasattr(baro, "_cell_dof") else {}
        fresh = type(baro)(
            num_atoms_global=baro._num_atoms_global,
            temperature_K=temperature,
            pdamp=baro._pdamp,
            pchain=baro._pchain,
            ploop=baro._ploop,
            **kwargs,
        )
        fresh._xi, fresh._p_xi = baro._xi, baro._p_xi
        dyn._barostat = fresh
    dyn._temperature_K = temperature
    if hasattr(dyn, "_kT"):
        dyn._kT = units.kB * temperature


def make_integrator(atoms: Atoms, stage: Stage, timestep_fs: float, rng: np.random.Generator):
    """The ASE integrator of a stage at its initial targets."""
    dt = timestep_fs * units.fs
    temperature, pressure = stage.target(0)
    tdamp, pdamp = stage.tdamp_fs * units.fs, stage.pdamp_fs * units.fs
    if stage.ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if stage.ensemble == "npt":
        from ase.md.nose_hoover_chain import MTKNPT, IsotropicMTKNPT

        cls = IsotropicMTKNPT if stage.barostat == "iso" else MTKNPT
        return cls(
            atoms,
            timestep=dt,
            temperature_K=temperature,
            pressure_au=pressure * units.GPa,
            tdamp=tdamp,
            pdamp=pdamp,
        )
    if stage.thermostat == "langevin":
        from ase.md.langevin import Langevin

        return Langevin(
            atoms, dt, temperature_K=temperature, friction=1.0 / tdamp, fixcm=False, rng=rng
        )
    if stage.thermostat == "bussi":
        from ase.md.bussi import Bussi

        return Bussi(atoms, dt, temperature_K=temperature, taut=tdamp, rng=rng)
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=temperature, tdamp=tdamp)


def set_targets(dyn, stage: Stage, temperature: float | None, pressure: float | None) -> None:
    """Move the integrator's targets (ramps); a no-op when they have not changed."""
    if stage.ensemble == "nve":
        return
    if stage.ensemble == "nvt" and stage.thermostat == "langevin":
        dyn.set_temperature(temperature_K=temperature)
    elif stage.ensemble == "nvt" and stage.thermostat == "bussi":
        dyn.temp = units.kB * temperature
        dyn.target_kinetic_energy = 0.5 * dyn.temp * dyn.ndof
    elif not math.isclose(dyn._thermostat._kT, units.kB * temperature, rel_tol=1e-15):
        _nhc_retarget(dyn, temperature)
    if stage.ensemble == "npt":
        dyn._pressure_au = pressure * units.GPa


def integrator_state(dyn) -> dict:
    """The integrator variables beyond positions, momenta and cell (for restarts)."""
    state = {}
    for owner, names, prefix in (
        (dyn, _DYN_STATE, ""),
        (getattr(dyn, "_thermostat", None), _CHAIN_STATE, "thermostat"),
        (getattr(dyn, "_barostat", None), _CHAIN_STATE, "barostat"),
    ):
        for name in names:
            if owner is not None and hasattr(owner, name):
                state[f"{prefix}{name}"] = np.asarray(getattr(owner, name)).tolist()
    return state


def load_integrator_state(dyn, state: dict) -> None:
    """Inverse of :func:`integrator_state`."""
    owners = {
        "": dyn,
        "thermostat": getattr(dyn, "_thermostat", None),
        "barostat": getattr(dyn, "_barostat", None),
    }
    for key, value in state.items():
        prefix, _, name = key.partition("_")
        owner = owners[prefix]
        old = getattr(owner, "_" + name)
        setattr(owner, "_" + name, type(old)(value) if np.isscalar(old) else np.array(value))


# --------------------------------------------------------------------------- thermo


def thermo_row(atoms: Atoms, step: int, timestep_fs: float, extrapolations: int) -> list[float]:
    """Values of one thermo row (see :data:`THERMO_HEADER`)."""
    epot = atoms.get_potential_energy()
    ekin = atoms.get_kinetic_energy()
    n = len(atoms)
    temperature = 2.0 * ekin / (3.0 * n * units.kB) if n else 0.0
    if all(atoms.pbc):
        stress = atoms.get_stress(voigt=False, include_ideal_gas=True)
        pressure, volume = -np.trace(stress) / 3.0 / units.GPa, atoms.get_volume()
    else:
        pressure = volume = math.nan
    return [step, step * timestep_fs, temperature, epot, ekin, epot + ekin, pressure, volume,
            extrapolations]  # fmt: skip


def format_row(row: list[float]) -> str:
    step, *values, extrapolations = row
    return ",".join([str(int(step)), *(f"{v:.10g}" for v in values), str(int(extrapolations))])


def read_thermo(path) -> dict[str, np.ndarray]:
    """The columns of a thermo CSV file."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
        rows = [line.strip().split(",") for line in handle if line.strip()]
    data = np.array(rows, dtype=np.float64).reshape(-1, len(header))
    return {name: data[:, k] for k, name in enumerate(header)}


# --------------------------------------------------------------------------- restart


def _rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def save_restart(path: Path, atoms: Atoms, position: dict, dyn, rng, file_sizes: dict) -> None:
    """Write the full state atomically as JSON (floats round-trip exactly)."""
    state = {
        "format": RESTART_FORMAT,
        "version": RESTART_VERSION,
        **position,
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.get_positions().tolist(),
        "momenta": atoms.get_momenta().tolist(),
        "cell": np.asarray(atoms.cell).tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        "integrator": integrator_state(dyn),
        "rng": _rng_state(rng),
        "file_sizes": file_sizes,
    }
    atomic_write_text(path, json.dumps(state))


def load_restart(path: Path) -> dict:
    """Read a restart file; ValueError naming the file when it is not one."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a restart file (invalid JSON: {err})") from None
    if not isinstance(state, dict) or state.get("format") != RESTART_FORMAT:
        raise ValueError(f"{path}: not an hdnnp MD restart file (no format {RESTART_FORMAT!r})")
    if state.get("version", 0) > RESTART_VERSION:
        raise ValueError(f"{path}: restart version {state['version']} is newer than supported")
    return state


def atoms_from_restart(state: dict) -> Atoms:
    atoms = Atoms(
        numbers=state["numbers"],
        positions=state["positions"],
        cell=state["cell"],
        pbc=state["pbc"],
    )
    atoms.set_momenta(np.array(state["momenta"]))
    return atoms


def _truncate(path: str | None, size: int | None) -> None:
    if path and size is not None and os.path.exists(path) and os.path.getsize(path) > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)


def _size(path: str | None) -> int | None:
    return os.path.getsize(path) if path and os.path.exists(path) else None


# --------------------------------------------------------------------------- the run


def initialize_velocities(atoms: Atoms, temperature: float | None, rng) -> None:
    """Maxwell-Boltzmann velocities at ``temperature`` K when the atoms have none; the
    centre-of-mass motion (and, without periodicity, the rotation) is removed."""
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    if temperature is None or np.any(atoms.get_momenta()):
        return
    thermalize_momenta(atoms, temperature, rng=rng)
    Stationary(atoms)
    if not any(atoms.pbc) and len(atoms) > 2:
        ZeroRotation(atoms)


class _Writer:
    """Trajectory frames and thermo rows (append mode; sizes recorded for restarts)."""

    def __init__(self, settings: MDSettings, append: bool):
        self.settings = settings
        mode = "a" if append else "w"
        self.traj = self.log = None
        if settings.trajectory:
            self.traj = open(settings.trajectory, mode, encoding="utf-8")  # noqa: SIM115
        if settings.log:
            self.log = open(settings.log, mode, encoding="utf-8")  # noqa: SIM115
            if self.log.tell() == 0:
                self.log.write(THERMO_HEADER + "\n")

    def frame(self, atoms: Atoms, step: int, row: list[float]) -> None:
        import ase.io
        from ase.calculators.singlepoint import SinglePointCalculator

        snap = atoms.copy()
        results = {"energy": row[3], "forces": atoms.get_forces()}
        if all(atoms.pbc):
            results["stress"] = atoms.get_stress()
        snap.calc = SinglePointCalculator(snap, **results)
        snap.info.update(step=step, time_fs=row[1], temperature_K=row[2])
        ase.io.write(self.traj, snap, format="extxyz")
        self.traj.flush()

    def row(self, row: list[float]) -> None:
        self.log.write(format_row(row) + "\n")
        self.log.flush()

    def sizes(self) -> dict:
        for handle in (self.traj, self.log):
            if handle is not None:
                handle.flush()
        return {"trajectory": _size(self.settings.trajectory), "log": _size(self.settings.log)}

    def close(self) -> None:
        for handle in (self.traj, self.log):
            if handle is not None:
                handle.close()


@dataclass
class _Progress:
    """Counters of the run shared by the per-step bookkeeping."""

    step: int
    stage_index: int
    stage_step: int
    dyn: object = None
    nve_reference: float | None = None
    interrupted: bool = False
    summary: MDSummary = field(default_factory=MDSummary)


def _stage_position(stages: list[Stage], step: int) -> tuple[int, int]:
    """(stage index, steps done within it) after ``step`` steps in total."""
    for index, stage in enumerate(stages):
        if step < stage.steps or index == len(stages) - 1:
            return index, min(step, stage.steps)
        step -= stage.steps
    return len(stages) - 1, 0


def restart_atoms(settings: MDSettings) -> Atoms:
    """The structure saved in the restart file of ``settings`` (to pass to :func:`run_md`
    with ``restart=True``)."""
    path = settings.restart_path()
    if path is None or not path.exists():
        raise FileNotFoundError(f"no restart file to continue from: {path}")
    return atoms_from_restart(load_restart(path))


@contextlib.contextmanager
def _sigint_between_steps(progress: _Progress):
    """Turn Ctrl-C into a flag checked after each step (the state stays consistent)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        progress.interrupted = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_md(
    atoms: Atoms,
    calc,
    stages: list[Stage],
    settings: MDSettings,
    restart: bool = False,
    on_step: Callable[[int, list[float]], None] | None = None,
) -> MDSummary:
    """Integrate ``stages`` with ``calc`` (an :class:`hdnnp.Calculator`), updating ``atoms``.

    Args:
        atoms: the initial structure; for ``restart`` the one of :func:`restart_atoms`.
        calc: the calculator; the ``extrapolation`` report of an :class:`hdnnp.Calculator`
            is read after each step (any other ASE calculator works, without reports).
        stages: the protocol (the same list as the interrupted run for ``restart``).
        settings: see :class:`MDSettings`.
        restart: continue from ``settings.restart_path()``: step, integrator variables and
            random state are restored, the trajectory and thermo files are cut back to
            their sizes at that step and appended to.
        on_step: called with (total step, thermo row) at every thermo interval (progress).
    """
    if not stages:
        raise ValueError("an MD run needs at least one stage")
    rng = np.random.default_rng(settings.seed)
    state = None
    if restart:
        state = load_restart(settings.restart_path())
        rng.bit_generator.state = state["rng"]
        _truncate(settings.trajectory, state["file_sizes"].get("trajectory"))
        _truncate(settings.log, state["file_sizes"].get("log"))
    else:
        initialize_velocities(atoms, settings.initial_temperature or stages[0].target(0)[0], rng)
    atoms.calc = calc
    start = int(state["step"]) if state else 0
    progress = _Progress(start, *_stage_position(stages, start))
    writer = _Writer(settings, append=restart)
    t0 = time.perf_counter()
    try:
        with _sigint_between_steps(progress):
            if not restart:
                _record(atoms, calc, progress, settings, writer, rng, on_step)
            _run_stages(atoms, calc, stages, settings, writer, rng, progress, state, on_step)
    except ExtrapolationLimit as err:
        progress.summary.stopped = str(err)
    finally:
        if progress.dyn is not None and settings.restart_path() is not None:
            _save(atoms, progress, rng, writer, settings)
        writer.close()
    return _finish(progress, start, len(atoms), settings, time.perf_counter() - t0)


def _finish(progress, start, n_atoms, settings, wall) -> MDSummary:
    summary = progress.summary
    summary.steps, summary.wall_s = progress.step, wall
    done = progress.step - start
    if wall > 0 and done:
        summary.atom_steps_per_s = done * n_atoms / wall
        summary.ns_per_day = done * settings.timestep_fs * 1e-6 / wall * 86400
    return summary


def _run_stages(atoms, calc, stages, settings, writer, rng, progress, state, on_step) -> None:
    for index in range(progress.stage_index, len(stages)):
        stage = stages[index]
        if index != progress.stage_index:
            progress.stage_index, progress.stage_step = index, 0
        dyn = progress.dyn = make_integrator(atoms, stage, settings.timestep_fs, rng)
        if state is not None and state.get("stage_index") == index:
            load_integrator_state(dyn, state.get("integrator", {}))
            set_targets(dyn, stage, *stage.target(progress.stage_step))
        state = None
        progress.nve_reference = atoms.get_total_energy() if stage.ensemble == "nve" else None
        while progress.stage_step < stage.steps:
            set_targets(dyn, stage, *stage.target(progress.stage_step + 1))
            dyn.run(1)
            progress.step += 1
            progress.stage_step += 1
            _record(atoms, calc, progress, settings, writer, rng, on_step, stage)
            if progress.interrupted:
                progress.summary.stopped = f"interrupted (Ctrl-C) after step {progress.step}"
                return


def _record(atoms, calc, progress, settings, writer, rng, on_step, stage=None) -> None:
    """Bookkeeping after a step: extrapolation, thermo row, trajectory frame, restart."""
    step = progress.step
    atoms.get_potential_energy()  # cached after the step
    report = getattr(calc, "extrapolation", None) or ExtrapolationReport()
    summary = progress.summary
    if report.n_atoms:
        summary.extrapolating_steps += 1
        summary.max_extrapolating_atoms = max(summary.max_extrapolating_atoms, report.n_atoms)
        summary.worst.append((report.max_excess, f"step {step}: {report.summary()}"))
        summary.worst = sorted(summary.worst, reverse=True)[:10]
    log_now = step % settings.log_every == 0
    traj_now = step % settings.every == 0
    nve = stage is not None and stage.ensemble == "nve"
    row = None
    if log_now or traj_now or nve:
        row = thermo_row(atoms, step, settings.timestep_fs, report.n_atoms)
    if nve:
        _track_drift(progress, row, len(atoms))
    if log_now:
        if writer.log is not None:
            writer.row(row)
        if on_step is not None:
            on_step(step, row)
    if traj_now and writer.traj is not None:
        writer.frame(atoms, step, row)
    if traj_now and progress.dyn is not None and settings.restart_path() is not None:
        _save(atoms, progress, rng, writer, settings)
    if settings.max_warnings is not None and report.n_warnings > settings.max_warnings:
        raise ExtrapolationLimit(
            f"step {step}: {report.n_warnings} extrapolation warnings > max "
            f"{settings.max_warnings} ({report.summary()})"
        )


def _track_drift(progress: _Progress, row, n_atoms: int) -> None:
    if progress.nve_reference is None or not n_atoms:
        return
    drift = abs(row[5] - progress.nve_reference) / n_atoms
    previous = progress.summary.max_drift_eV_per_atom or 0.0
    progress.summary.max_drift_eV_per_atom = max(previous, drift)


def _save(atoms, progress, rng, writer, settings) -> None:
    position = {
        "step": progress.step,
        "stage_index": progress.stage_index,
        "stage_step": progress.stage_step,
    }
    save_restart(settings.restart_path(), atoms, position, progress.dyn, rng, writer.sizes())
