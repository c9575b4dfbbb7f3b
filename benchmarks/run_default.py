"""`nnrecipe run` end to end on the default built-in (mnist1d): wall time and test accuracy per budget, beside
the plain alternative (the built-in's own model trained once as the experiment says: Adam 3e-4, its epochs, the
best validation epoch kept).

    python benchmarks/run_default.py [--budgets quick,default] [--threads N] [--seed N] [--no-plain]
    python benchmarks/run_default.py --budgets default --seeds 0-4 --workers 1,auto --no-plain [--grouped]

With --seeds and --workers, every (seed, workers) pair runs once, seeds interleaved so that a change in the
machine's load spreads over both (--grouped: every seed of the first worker count, then the next, so that a
table stopped part-way has the first count's whole row of seeds): a table per worker count (seed, wall, val and test, test per step) and the
median and minimum test accuracy and median wall, and the ratio of each worker count's median wall to the
first's ("auto" is nnrecipe's default: one worker per physical core).

Each budget runs all six steps once; steps 1-4 are read off the same run (their wall times and the scores of
step 4's model, which the result document records per step). Targets: issue 6, steps 1-4: default <= 15 min
with test accuracy >= 99.0%, quick <= 3 min with >= 97.5%; issue 7, all six steps: default <= 20 min with
>= 99.5%. The machine may be shared: the load average before and after each run is printed next to its time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: issue 6, steps 1-4: (seconds, test accuracy) per budget; issue 7, all six steps
TARGETS: dict[str, tuple[float | None, float | None]] = {"quick": (180.0, 0.975), "default": (900.0, 0.990)}
TARGETS_ALL: dict[str, tuple[float | None, float | None]] = {"quick": (180.0, 0.975), "default": (1200.0, 0.995)}


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def run_budget(budget: str, env: dict[str, str], seed_arg: int | None = None,
               workers: str | None = None, device: str = "cpu") -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out, doc = Path(tmp) / "run", Path(tmp) / "doc.json"
        before = load()
        started = time.perf_counter()
        seed = [] if seed_arg is None else ["--seed", str(seed_arg)]
        pool = [] if workers in (None, "auto") else ["--workers", str(workers)]
        proc = subprocess.run([sys.executable, "-m", "nnrecipe", "run", "--budget", budget, "--out", str(out),
                               "--json", str(doc), "--device", device, *seed, *pool], env=env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - started
        if not doc.exists():
            return {"budget": budget, "seconds": seconds, "error": proc.stderr[-2000:]}
        result = json.loads(doc.read_text())
    steps = {s["step"]: s for s in result["steps"]}
    config = steps.get("regularize", {}).get("details", {}).get("config", {})
    # steps 1-4 alone: the time until step 4 ended (the steps' own wall times, plus loading the data before
    # them) and the scores of step 4's model, which the run records when the step ends
    overhead = seconds - sum(s.get("seconds", 0.0) for s in result["steps"])
    through_4 = overhead + sum(steps[k].get("seconds", 0.0) for k in ("data", "skeleton", "overfit", "regularize")
                               if k in steps)
    step4 = steps.get("regularize", {}).get("scores", {})
    return {"budget": budget, "seconds": seconds, "exit": proc.returncode, "load": f"{before} -> {load()}",
            "val": result["scores"].get("val", {}).get("accuracy"), "test": result["scores"].get("test", {}).get("accuracy"),
            "steps": {k: v["status"] for k, v in steps.items()}, "config": config, "through_4": through_4,
            "step4_val": step4.get("val", {}).get("accuracy"), "step4_test": step4.get("test", {}).get("accuracy"),
            "by_step": {k: (v.get("seconds", 0.0), v.get("scores", {}).get("test", {}).get("accuracy"))
                        for k, v in steps.items()}}


def plain(threads: int | None) -> dict[str, object]:
    """The built-in's model trained once, as the experiment describes it: no recipe."""
    import torch

    from nnrecipe.builtin import load_builtin
    from nnrecipe.engine.loop import evaluate, fit

    if threads:
        torch.set_num_threads(threads)
    exp = load_builtin("mnist1d")
    started = time.perf_counter()
    torch.manual_seed(exp.seed)
    model = exp.model()
    best: dict[str, object] = {}

    class Best:
        def on_train_start(self, *a: object) -> None: ...
        def on_step_end(self, *a: object) -> None: ...
        def on_train_end(self, *a: object) -> None: ...

        def on_epoch_end(self, record: object, m: torch.nn.Module) -> bool:
            acc = record.val["accuracy"]  # type: ignore[attr-defined]
            if acc > best.get("acc", -1.0):  # type: ignore[operator]
                best.update(acc=acc, state={k: v.clone() for k, v in m.state_dict().items()})
            return False

    fit(model, exp, device=torch.device("cpu"), evaluate_on=exp.val, callbacks=[Best()])  # type: ignore[list-item]
    model.load_state_dict(best["state"])  # type: ignore[arg-type]
    test = evaluate(model, exp.test, exp, device=torch.device("cpu"))["accuracy"]
    return {"seconds": time.perf_counter() - started, "val": best["acc"], "test": test, "epochs": exp.epochs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", default="quick,default")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs (default: unset)")
    parser.add_argument("--no-plain", action="store_true")
    parser.add_argument("--seed", type=int, default=None, help="run with this seed (default: the experiment's)")
    parser.add_argument("--seeds", default=None, help="a range such as 0-4 (or a list 0,3): the seed table")
    parser.add_argument("--workers", default=None, help="worker counts for the seed table, e.g. 1,auto")
    parser.add_argument("--device", default="cpu", help="where the runs train (cpu, cuda)")
    parser.add_argument("--grouped", action="store_true", help="all seeds of one worker count, then the next")
    args = parser.parse_args()
    if args.seeds is not None:
        seed_table(args.budgets.split(",")[0], _seeds(args.seeds), (args.workers or "auto").split(","), args.threads,
                   args.device, args.grouped)
        return
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    print(f"machine: {os.cpu_count()} cores, load {load()}, threads {args.threads or 'default'}")
    if not args.no_plain:
        p = plain(args.threads)
        print(f"plain   (model as given, Adam 3e-4, {p['epochs']} epochs): {p['seconds']:6.1f} s  "
              f"val {p['val']:.4f}  test {p['test']:.4f}")
    for budget in args.budgets.split(","):
        r = run_budget(budget, env, args.seed, device=args.device)
        if "error" in r:
            print(f"{budget:8s} failed after {r['seconds']:.0f} s:\n{r['error']}")
            continue
        print(f"{budget:8s}: all six steps {r['seconds']:6.1f} s  val {r['val']:.4f}  test {r['test']:.4f}  "
              f"(load {r['load']}; steps {r['steps']}){_verdict(TARGETS_ALL, budget, r['seconds'], r['test'])}")
        print(f"          steps 1-4 {r['through_4']:6.1f} s  val {r['step4_val']:.4f}  test {r['step4_test']:.4f}"
              f"{_verdict(TARGETS, budget, r['through_4'], r['step4_test'])}")
        print("          per step (s, test accuracy): " + ", ".join(
            f"{k} {sec:.0f}" + (f" {acc:.4f}" if acc is not None else "") for k, (sec, acc) in r["by_step"].items()))
        print(f"          step 4 settled on: {r['config']}")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(v) for v in text.split(",")]


def seed_table(budget: str, seeds: list[int], workers: list[str], threads: int | None, device: str = "cpu",
               grouped: bool = False) -> None:
    """Every (seed, workers) pair once, seeds interleaved (or grouped by worker count); a table per worker count
    and its medians."""
    import statistics

    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    print(f"machine: {os.cpu_count()} cores, load {load()}; budget {budget}, seeds {seeds}, workers {workers}")
    rows: dict[str, list[dict[str, object]]] = {w: [] for w in workers}
    pairs = [(s, w) for w in workers for s in seeds] if grouped else [(s, w) for s in seeds for w in workers]
    for seed, w in pairs:
        r = run_budget(budget, env, seed, w, device)
        rows[w].append({"seed": seed, **r})
        print(f"  seed {seed} workers {w}: " + (f"failed: {r['error']}" if "error" in r else
              f"{r['seconds']:.0f} s, val {r['val']:.4f}, test {r['test']:.4f} (load {r['load']}); per step "
              + ", ".join(f"{k} {sec:.0f} s" + (f" {acc:.4f}" if acc is not None else "")
                          for k, (sec, acc) in r["by_step"].items())), flush=True)  # type: ignore[attr-defined]
    first = None
    for w in workers:
        done = [r for r in rows[w] if "error" not in r]
        print(f"\nworkers {w}:")
        print("  seed   wall s    val     test    test per step (overfit / regularize / tune / squeeze)   s per step")
        for r in done:
            per_step = r["by_step"]  # type: ignore[assignment]
            steps = ("overfit", "regularize", "tune", "squeeze")
            tests = " / ".join(f"{per_step.get(k, (0, None))[1] or float('nan'):.4f}"  # type: ignore[union-attr]
                               for k in steps)
            seconds = " / ".join(f"{per_step.get(k, (0.0, None))[0]:.0f}" for k in steps)  # type: ignore[union-attr]
            print(f"  {r['seed']:>4}  {r['seconds']:7.1f}  {r['val']:.4f}  {r['test']:.4f}   {tests}   {seconds}")
        if not done:
            continue
        tests_ = [float(r["test"]) for r in done]  # type: ignore[arg-type]
        wall = statistics.median(float(r["seconds"]) for r in done)  # type: ignore[arg-type]
        first = first or wall
        print(f"  median test {statistics.median(tests_):.4f}, min test {min(tests_):.4f} (targets >= 0.9950, "
              f">= 0.9930); median wall {wall:.0f} s = {wall / first:.0%} of workers {workers[0]}'s")


def _verdict(targets: dict[str, tuple[float | None, float | None]], budget: str, seconds: float,
             test: float | None) -> str:
    limit, target = targets.get(budget, (None, None))
    if limit is None or target is None:
        return ""
    ok = seconds <= limit and (test or 0.0) >= target
    return f"  target <= {limit:.0f} s and >= {target:.1%}: {'met' if ok else 'MISSED'}"


if __name__ == "__main__":
    main()
