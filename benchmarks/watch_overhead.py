"""Watch overhead: the same training loop with and without `nr.watch` around it, in one process, alternating
step by step, median of several repeats. Prints the time of both and their ratio (target <= 1.03), as wall
time and as the training thread's CPU time (on a CPU with one torch thread the two measure the same work, and
the CPU time is not inflated by other processes taking the cores), and apart from them the one-off cost of
writing the report when the loop ends.

    python benchmarks/watch_overhead.py [--device cpu|cuda] [--steps N] [--repeats R] [--threads T]

The loop is what a user writes by hand: an MLP on 28x28 inputs (784-256-256-10, batch 128), Adam, the loss
kept every step and a validation loss every 100 steps. Two copies of it run side by side from the same weights
on the same batches, one of them watched; their steps alternate (which goes first alternates too), so a
machine whose load drifts, or that is shared with other work, slows both alike. The watched loop's time
includes entering and leaving `nr.watch` (the final verdicts), without writing files.
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import tempfile
import time
from typing import Any

import torch
from torch import nn

import nnrecipe as nr

BATCH = 128
VAL_EVERY = 100
Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def make_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def make_data(steps: int, device: torch.device) -> Data:
    """Ten noisy class centres: learnable, so the loop does what a real one does."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 784, generator=gen)
    y = torch.randint(0, 10, (steps * BATCH + 512,), generator=gen)
    x = (centres[y] + 2 * torch.randn(len(y), 784, generator=gen)).reshape(-1, 1, 28, 28)
    n = steps * BATCH
    return x[:n].to(device), y[:n].to(device), x[n:].to(device), y[n:].to(device)


class Loop:
    """One copy of the user's loop, advanced one step at a time."""

    def __init__(self, init: nn.Module, data: Data) -> None:
        self.model = copy.deepcopy(init)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.data = data
        self.kept: list[torch.Tensor] = []

    def step(self, step: int, watcher: Any = None) -> None:
        x, y, val_x, val_y = self.data
        xb, yb = x[step * BATCH:(step + 1) * BATCH], y[step * BATCH:(step + 1) * BATCH]
        loss = nn.functional.cross_entropy(self.model(xb), yb)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        val = None
        if (step + 1) % VAL_EVERY == 0:
            self.model.eval()
            with torch.no_grad():
                val = nn.functional.cross_entropy(self.model(val_x), val_y)
            self.model.train()
        if watcher is not None:
            watcher.log(loss, val_loss=val)
        else:
            self.kept.append(loss.detach())  # the plain loop reads its losses once, at the end


def side_by_side(init: nn.Module, data: Data, steps: int, device: torch.device,
                 out: str | None = None) -> dict[str, float]:
    """Seconds spent in the plain loop and in the watched one, their steps alternating: wall time, and the CPU
    time of this thread (which time slices taken by other processes do not inflate)."""
    plain, watched = Loop(init, data), Loop(init, data)
    spent = {"plain": 0.0, "watched": 0.0, "plain_cpu": 0.0, "watched_cpu": 0.0}

    def timed(name: str, fn: Any) -> None:
        _sync(device)
        start, cpu = time.perf_counter(), time.thread_time()
        fn()
        _sync(device)
        spent[name] += time.perf_counter() - start
        spent[f"{name}_cpu"] += time.thread_time() - cpu

    watcher: Any = nr.watch(watched.model, watched.optimizer, planned_steps=steps, out=out)
    timed("watched", watcher.__enter__)
    for step in range(steps):
        order = [("plain", functools.partial(plain.step, step)), ("watched", functools.partial(watched.step, step, watcher))]
        for name, fn in order if step % 2 == 0 else order[::-1]:
            timed(name, fn)
    timed("plain", lambda: torch.stack(plain.kept).cpu())
    timed("watched", lambda: watcher.__exit__(None, None, None))
    return spent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    init = make_model().to(device)
    data = make_data(args.steps, device)
    side_by_side(init, data, 50, device)  # warm-up: allocator, kernels, lazy imports
    runs = [side_by_side(init, data, args.steps, device) for _ in range(args.repeats)]
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} steps of batch {BATCH}, "
          f"{args.repeats} repeats (median)")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        side_by_side(init, data, 1, device, out=folder)
        writing = time.perf_counter() - start
    for kind, label in (("", "wall time"), ("_cpu", "CPU time of the training thread")):
        ratios = sorted(r[f"watched{kind}"] / r[f"plain{kind}"] for r in runs)
        plain = statistics.median(r[f"plain{kind}"] for r in runs)
        watched = statistics.median(r[f"watched{kind}"] for r in runs)
        print(f"{label}: plain {plain:.3f} s ({1e3 * plain / args.steps:.2f} ms/step), nr.watch {watched:.3f} s, "
              f"ratio {statistics.median(ratios):.3f} (repeats {ratios[0]:.3f} to {ratios[-1]:.3f}; target <= 1.03)")
    print(f"writing the report and result.json once at the end: {writing:.2f} s")


if __name__ == "__main__":
    main()
