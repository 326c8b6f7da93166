"""Run every scenario demo in full mode and copy its key pictures into docs/gallery/.

    containers/run python3 demos/gallery.py [--quick] [--only NAME ...]
    containers/run mpirun -n 2 python3 demos/gallery.py      # prism_3d wants two ranks

The pictures kept per demo: those the demo draws itself and its field and site pictures
(not the time series, mesh and expression maps every run also has). docs/gallery.md
shows them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from mpi4py import MPI

from bmf_fem.demos import scripted_names
from bmf_fem.demos.common import write_result
from bmf_fem.parallel import print0

LEFT_OUT = {"timeseries.png", "mesh.png", "expression_time.png", "fields_3d_inside.png"}
"""Standard report pictures the gallery does without (every run directory has them)."""


def kept(pictures: list[Path]) -> list[Path]:
    """The demo's own pictures and its field and site pictures, one of each name."""
    chosen: dict[str, Path] = {}
    for picture in pictures:
        if picture.name not in LEFT_OUT:
            chosen.setdefault(picture.name, picture)
    return list(chosen.values())


def main(comm: MPI.Comm) -> int:
    from bmf_fem.demos import load_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", default="bmf-out/gallery")
    parser.add_argument("--docs", default=str(Path(__file__).resolve().parent.parent / "docs"))
    args = parser.parse_args()
    target = Path(args.docs) / "gallery"
    for name in args.only or scripted_names():
        out = Path(args.out) / name
        print0(comm, f"{name}:")
        result = load_demo(name).run(out, args.quick, comm)
        write_result(out, name, args.quick, result, comm)
        if comm.rank == 0:
            target.mkdir(parents=True, exist_ok=True)
            for old in target.glob(f"{name}--*.png"):
                old.unlink()
            for picture in kept([Path(p) for p in result.pictures]):
                shutil.copyfile(picture, target / f"{name}--{picture.name}")
            (target / f"{name}.txt").write_text(result.table + "\n")
        print0(comm, result.table)
    return 0


if __name__ == "__main__":
    sys.exit(main(MPI.COMM_WORLD))
