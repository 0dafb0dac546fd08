#!/usr/bin/env bash
# Train the SiO2 zeolite potential from SIMPLE-NN's input.yaml or from hdnnp's config.yaml.
#
#   bash examples/sio2_zeolites/run.sh [native|simple-nn] [hdnnp train options...]
#
# e.g. `run.sh native --max-time 600` or `run.sh simple-nn --max-epochs 5 -o /tmp/sio2`.
# The run directory (default runs/sio2-<setup> in the current folder) gets best.hdnnp,
# report.md with the errors on the training, validation and test frames, and plots.
# Needs the zeolite data in ../shared/data/sio2_zeolites (see README.md); without it
# this script says where to put it and exits 0. About 8 minutes on 2 cores (100 epochs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$(cd "$here/../.." && pwd)/../shared/data"
setup="${1:-native}"
if [ $# -gt 0 ]; then shift; fi

if [ ! -f "$data/sio2_zeolites/train.extxyz" ] || [ ! -d "$data/simple-nn-sio2/v2" ]; then
    echo "SiO2 zeolite data not found: this example needs"
    echo "  $data/sio2_zeolites/{train,test_seen,test_unseen}.extxyz"
    echo "  $data/simple-nn-sio2/v2/params_Si and params_O (SIMPLE-NN's SiO2 example)"
    echo "Put the data there (see $here/README.md for where it comes from) and run again."
    exit 0
fi

hdnnp="$here/../../.venv/bin/hdnnp"
if [ ! -x "$hdnnp" ]; then hdnnp="hdnnp"; fi
out=(-o "runs/sio2-$setup")
for arg in "$@"; do
    if [ "$arg" = "-o" ] || [ "$arg" = "--output" ]; then out=(); fi
done

case "$setup" in
    native)
        "$hdnnp" train "$here/config.yaml" "${out[@]}" "$@"
        ;;
    simple-nn)
        # the same test files and precision as config.yaml
        "$hdnnp" train "$here/input.yaml" "${out[@]}" --dtype float32 \
            --test "$data/sio2_zeolites/test_seen.extxyz" "$data/sio2_zeolites/test_unseen.extxyz" \
            "$@"
        ;;
    *)
        echo "usage: $0 [native|simple-nn] [hdnnp train options]" >&2
        exit 2
        ;;
esac
