"""Progress of a long run: a bar on a terminal, periodic lines otherwise (rank 0 only)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Context manager; ``update(step, row)`` after every step."""

    def __init__(self, comm, total: int, dt: float, enabled: bool = True, lines: int = 10):
        self.show = enabled and comm.rank == 0 and total > 0
        self.total = total
        self.dt = dt
        self.every = max(1, total // lines)
        self.bar = None
        self.started = time.perf_counter()

    def __enter__(self) -> Progress:
        if self.show and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="step", file=sys.stderr, leave=False)
        return self

    def update(self, step: int, row: dict | None) -> None:
        if not self.show:
            return
        if self.bar is not None:
            self.bar.update(1)
            if row is not None:
                self.bar.set_postfix(t=f"{row['t']:.3g}", u_max=f"{row['u_max']:.3g}")
        elif step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.started
            extra = f" u_max={row['u_max']:.4g}" if row else ""
            print(
                f"step {step}/{self.total} t={step * self.dt:.4g} ({elapsed:.1f} s){extra}",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
