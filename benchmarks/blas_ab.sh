#!/bin/sh
# The environment's two BLAS libraries on the same runs: OpenBLAS (the default) and MKL
# (BMF_BLAS=mkl, a second environment, built on first use). Each round runs the peers
# problem at 66k dofs (bmf-fem, dolfinx assembled once with BoomerAMG, naive dolfinx) and
# the full BMF step on the 62k-dof crystal under one BLAS and then the other, so both
# see the machine's same moments; rows are prefixed with the BLAS that ran them.
#
#     benchmarks/blas_ab.sh [ROUNDS]        (on the host, from the checkout; default 2)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(dirname "$here")
rounds=${1:-2}
case "$rounds" in '' | *[!0-9]*) echo "blas_ab.sh: ROUNDS must be a whole number, not '$rounds'" >&2; exit 2 ;; esac

run() {  # run BLAS COMMAND...: the command's table (header and rows), rows prefixed with BLAS
    blas=$1
    shift
    BMF_BLAS=$blas "$checkout/containers/run" "$@" 2>&1 | awk -v blas="$blas" '
        / dofs / { printf "%-9s%s\n", "BLAS", $0 }
        /^ *[0-9]/ { printf "%-9s%s\n", blas, $0 }'
}

round=1
while [ "$round" -le "$rounds" ]; do
    echo "round $round"
    for blas in openblas mkl; do
        run "$blas" python3 benchmarks/peers.py --sizes 256 \
            --solvers bmf-fem dolfinx-amg dolfinx-naive
        run "$blas" python3 benchmarks/bmf_step.py --h 0.0035 --ranks 1
    done
    round=$((round + 1))
done
