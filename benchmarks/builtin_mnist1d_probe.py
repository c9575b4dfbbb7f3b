"""What the built-in mnist1d model family reaches: AdamW + OneCycleLR + batch_augment, on 2 CPU threads.

    python benchmarks/builtin_mnist1d_probe.py [--epochs 50] [--width 1.0] [--depth 3] [--lr 3e-3]

Prints the test accuracy (the test split is only scored, never used to choose) and the wall time.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nnrecipe.builtin import mnist1d


def accuracy(model: torch.nn.Module, ds: torch.utils.data.TensorDataset) -> float:
    model.eval()
    with torch.no_grad():
        x, y = ds.tensors
        return float((model(x).argmax(-1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--wd", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    exp = mnist1d.experiment()
    load_seconds = time.perf_counter() - started
    torch.manual_seed(args.seed)
    model = exp.model(width=args.width, **({} if args.depth is None else {"depth": args.depth}))
    x_train, y_train = exp.train.tensors
    steps_per_epoch = -(-len(x_train) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)

    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x_train), generator=gen).split(args.batch):
            x, y = exp.batch_augment(x_train[idx], y_train[idx], gen)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
            sched.step()
        if epoch == 0:
            first_epoch = time.perf_counter() - started
    seconds = time.perf_counter() - started
    params = sum(p.numel() for p in model.parameters())
    print(f"width={args.width} depth={args.depth} params={params} epochs={args.epochs} lr={args.lr} wd={args.wd}")
    print(f"load {load_seconds:.2f}s  first epoch {first_epoch:.2f}s  train {seconds:.1f}s "
          f"({args.threads} threads)")
    print(f"val acc {accuracy(model, exp.val):.4f}  test acc {accuracy(model, exp.test):.4f}")


if __name__ == "__main__":
    main()
