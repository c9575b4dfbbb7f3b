"""Step 5 scaling: trials per hour with 1 and 2 workers tuning one study, and step 6's ensemble gain.

    python benchmarks/tune_scaling.py [--trials 8] [--epochs 30] [--storage URL] [--spec mnist1d]

Each worker count gets a fresh study in the same storage (a temporary SQLite file unless --storage names a
database, e.g. postgresql://user@host/db) and runs `nnrecipe tune SPEC --workers N` as a user would; trials per
hour = finished trials / wall time (process start-up included). The plain alternative is one worker. Then the
top-k completed trials of the larger study are averaged: single best against the ensemble, on val and test
(test only reported). The machine may be shared: the load average is printed next to each timing.
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


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def tune(spec: str, storage: str, study: str, *, trials: int, workers: int, out: Path,
         threads: int | None) -> dict[str, object]:
    # one worker uses torch's default threads unless told; --workers N gives each process cores // N threads
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    cmd = [sys.executable, "-m", "nnrecipe", "tune", spec, "--storage", storage, "--study", study, "--trials",
           str(trials), "--workers", str(workers), "--budget", "quick", "--device", "cpu", "--out", str(out)]
    before = load()
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"nnrecipe tune failed:\n{proc.stderr[-3000:]}")
    label = str(threads) if threads else (f"{(os.cpu_count() or 1) // workers} each" if workers > 1 else "default")
    return {"workers": workers, "threads": label, "seconds": seconds, "trials_per_hour": trials / seconds * 3600,
            "load": f"{before} -> {load()}"}


def ensemble_gain(spec: str, storage: str, study: str, out: Path, *, k: int) -> dict[str, object]:
    import optuna
    import torch

    from nnrecipe.engine.ensemble import Ensemble
    from nnrecipe.engine.loop import evaluate
    from nnrecipe.spec import load_spec
    from nnrecipe.steps.config import TrainingConfig
    from nnrecipe.steps.training import build_model
    from nnrecipe.steps.tune import open_storage, quiet_optuna, saved_trial, study_folder

    exp, cpu = load_spec(spec), torch.device("cpu")
    with quiet_optuna():
        found = optuna.load_study(study_name=study, storage=open_storage(storage, heartbeat=None))
    done = sorted((t for t in found.trials if t.state == optuna.trial.TrialState.COMPLETE),
                  key=lambda t: t.value, reverse=True)[:k]  # type: ignore[arg-type, return-value]
    models = []
    for t in done:
        saved = saved_trial(study_folder(out, study), t.number)
        assert saved is not None, f"trial {t.number} has no weights in {out}"
        model = build_model(exp, TrainingConfig.from_dict(saved["config"]), device=cpu, seed=saved["seed"])
        model.load_state_dict(saved["model"])
        models.append(model)
    scores = {}
    for name, model in (("single best", models[0]), (f"ensemble of {len(models)}", Ensemble(models, task=exp.task))):
        scores[name] = {split: evaluate(model, ds, exp, device=cpu).get("accuracy")
                        for split, ds in (("val", exp.val), ("test", exp.test)) if ds is not None}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="mnist1d")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30, help="epochs per trial (one-cycle)")
    parser.add_argument("--storage", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--ensemble", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # the settled configuration trials start from (as step 4 would leave it in the run folder)
        base = {"knobs": {"width": 1.0, "depth": 3}, "augment": True, "weight_decay": 0.05, "lr": 3e-3, "schedule": "onecycle",
                "batch_size": 128, "epochs": args.epochs}
        from nnrecipe.engine.run_folder import mark

        mark(out)  # a run folder nnrecipe wrote, as `nnrecipe run` leaves it: tune reads its config.json
        (out / "config.json").write_text(json.dumps({"config": base}))
        storage = args.storage or f"sqlite:///{out / 'studies.db'}"
        stamp = int(time.time())
        # one worker with torch's default threads (the plain alternative), with one thread, and two workers
        settings = [(1, None), (1, 1), (2, None)]
        rows = [tune(args.spec, storage, f"scale-{w}-{t}-{stamp}", trials=args.trials, workers=w, out=out, threads=t)
                for w, t in settings]
        print(f"{args.spec}: {args.trials} trials of {args.epochs} epochs, storage "
              f"{'sqlite (temporary)' if not args.storage else args.storage.split('@')[-1]}, {os.cpu_count()} cores")
        print(f"{'workers':>8} {'threads':>8} {'seconds':>9} {'trials/hour':>12}  load (1-min avg, before -> after)")
        for r in rows:
            print(f"{r['workers']:>8} {r['threads']!s:>8} {r['seconds']:>9.1f} {r['trials_per_hour']:>12.0f}  {r['load']}")
        best_one = max(r["trials_per_hour"] for r in rows[:2])  # type: ignore[type-var]
        print(f"speed-up with 2 workers over the faster single worker: {rows[2]['trials_per_hour'] / best_one:.2f}x")
        gain = ensemble_gain(args.spec, storage, f"scale-2-None-{stamp}", out, k=args.ensemble)
        print("ensemble gain (top trials of the 2-worker study; accuracy, test only reported):")
        for name, s in gain.items():
            print(f"  {name:<16} " + "  ".join(f"{split} {v:.4f}" for split, v in s.items()))


if __name__ == "__main__":
    main()
