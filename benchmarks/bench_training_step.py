"""Speed of one training step on forces: the fused CPU pair contraction against torch.

Prepares the features of a training set once (default: the mlearn Mo training set,
``../shared/data/mlearn/Mo/train.extxyz``, 10k atoms, hdnnp's default descriptors and
networks), then times in one process

* a full-batch loss + backward (one L-BFGS function evaluation),
* an Adam step on a batch of 8 structures (collation included),
* an evaluation of the whole set without the graph (the per-epoch metrics),

with the fused numba contraction of :mod:`hdnnp.contraction` and with the torch path
(index_select + bmm, the GPU path), and prints the times and their ratio, for float64
and float32. With a GPU present the torch path is also timed there.

    python benchmarks/bench_training_step.py [--data FILE] [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from bench_potential import median_time  # same folder: the script's sys.path[0]

from hdnnp.config import config_from_dict
from hdnnp.contraction import fused_disabled, kernels_available
from hdnnp.threads import set_threads
from hdnnp.training.run import prepare
from hdnnp.training.trainer import _terms, evaluate_set

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/mlearn/Mo/train.extxyz"


def steps(model, train, config):
    whole = train.whole()

    def full_batch():
        model.zero_grad()
        _terms(model, *whole, config, create_graph=True).loss.backward()

    def adam_batch():
        model.zero_grad()
        _terms(model, *train.batch(range(min(8, len(train)))), config, True).loss.backward()

    def evaluate():
        evaluate_set(model, train, config)

    return {
        "full-batch loss+backward": full_batch,
        "Adam step (8 frames)": adam_batch,
        "evaluation (whole set)": evaluate,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"data not found: {args.data}", file=sys.stderr)
        return 1
    set_threads(args.threads)
    rows = []
    for dtype in ("float64", "float32"):
        config = config_from_dict(
            {"data": {"train": [str(args.data)]}, "training": {"dtype": dtype}}
        )
        with tempfile.TemporaryDirectory() as tmp:
            _, model, train, _ = prepare(config, Path(tmp))
        n_atoms = sum(f.batch.species.shape[0] for f in train.features)
        for name, fn in steps(model, train, config).items():
            fused = median_time(fn, args.repeats) if kernels_available(torch.zeros(1)) else None
            with fused_disabled():
                plain = median_time(fn, args.repeats)
            rows.append((dtype, name, fused, plain))
        if torch.cuda.is_available():
            cuda_model = model.to("cuda")
            train.features = [f.to(device="cuda") for f in train.features]
            train._whole = None
            for name, fn in steps(cuda_model, train, config).items():
                rows.append((dtype, name + " [GPU]", None, median_time(fn, args.repeats)))
    print(
        f"\n{args.data} ({n_atoms} training atoms), {args.threads} thread(s), median of "
        f"{args.repeats}"
    )
    print(f"{'dtype':8s} {'step':32s} {'fused s':>9s} {'torch s':>9s} {'torch/fused':>12s}")
    for dtype, name, fused, plain in rows:
        f = f"{fused:9.3f}" if fused is not None else f"{'-':>9s}"
        ratio = f"{plain / fused:12.2f}" if fused else f"{'-':>12s}"
        print(f"{dtype:8s} {name:32s} {f} {plain:9.3f} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
