"""Engine overhead: the same model on the same data, trained by a plain hand-written PyTorch loop and by
nnrecipe's `fit`, in one process. Prints samples/s of both and their ratio (target >= 0.97; >= 0.95 on a GPU).

    python benchmarks/loop_throughput.py [--device cpu|cuda] [--precision fp32|bf16] [--epochs N] [--repeats R]
    python benchmarks/loop_throughput.py --accuracy [--device cuda]

`--precision bf16` runs both loops' forward passes under bf16 autocast. `--accuracy` trains the built-in mnist1d
model as its experiment says through `fit`, in fp32 and in bf16, and prints the test accuracy and time of each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
from nnrecipe.engine.loop import fit


def make_data(n: int, device: str) -> TensorDataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 40, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    return TensorDataset(x, y)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Conv1d(32, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def plain_loop(ds: TensorDataset, device: torch.device, epochs: int, batch_size: int,
               precision: str = "fp32") -> float:
    """What a careful user writes by hand: shuffle by index, step, read the loss once per epoch."""
    torch.manual_seed(0)
    model = make_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x_all, y_all = ds.tensors
    gen = torch.Generator().manual_seed(0)
    _sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            x, y = x_all[idx].to(device, non_blocking=True), y_all[idx].to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        torch.stack(losses).mean().item()
    _sync(device)
    return epochs * len(x_all) / (time.perf_counter() - start)


def engine_loop(ds: TensorDataset, device: torch.device, epochs: int, batch_size: int,
                precision: str = "fp32") -> float:
    exp = nr.Experiment(name="bench", task="classification", train=ds, val=ds, model=make_model,
                        batch_size=batch_size, epochs=epochs)
    model = make_model().to(device)
    _sync(device)
    start = time.perf_counter()
    fit(model, exp, device=device, precision=precision)  # type: ignore[arg-type]
    _sync(device)
    return epochs * len(ds) / (time.perf_counter() - start)


def accuracy_by_precision(device: torch.device) -> None:
    """The built-in mnist1d model trained as its experiment says, in fp32 and in bf16: test accuracy and time."""
    from nnrecipe.builtin import load_builtin
    from nnrecipe.engine.loop import evaluate

    exp = load_builtin("mnist1d")
    for precision in ("fp32", "bf16"):
        torch.manual_seed(exp.seed)
        model = exp.model().to(device)
        _sync(device)
        start = time.perf_counter()
        fit(model, exp, device=device, precision=precision)  # type: ignore[arg-type]
        _sync(device)
        seconds = time.perf_counter() - start
        test = evaluate(model, exp.test, exp, device=device)["accuracy"]
        print(f"{precision}: {exp.epochs} epochs in {seconds:6.1f} s, test accuracy {test:.4f}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--accuracy", action="store_true", help="fp32 against bf16 on mnist1d instead")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.accuracy:
        accuracy_by_precision(device)
        return
    ds = make_data(args.samples, args.device)
    plain_loop(ds, device, 1, args.batch_size, args.precision)  # warm-up: allocator, kernels
    engine_loop(ds, device, 1, args.batch_size, args.precision)
    plain, engine = [], []
    for _ in range(args.repeats):  # interleave so drifting machine load hits both alike
        plain.append(plain_loop(ds, device, args.epochs, args.batch_size, args.precision))
        engine.append(engine_loop(ds, device, args.epochs, args.batch_size, args.precision))
    p, e = statistics.median(plain), statistics.median(engine)
    print(f"device {device}, {args.precision}, torch threads {torch.get_num_threads()}, {args.samples} samples x "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.repeats} repeats (median)")
    print(f"plain loop : {p:10.0f} samples/s")
    print(f"nnrecipe   : {e:10.0f} samples/s")
    print(f"ratio      : {e / p:10.3f}  (target >= {0.95 if device.type == 'cuda' else 0.97})")


if __name__ == "__main__":
    main()
