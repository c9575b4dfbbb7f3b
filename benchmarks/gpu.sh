#!/usr/bin/env bash
# The GPU path in one short script, for a lent device's few minutes: the engine's samples/s against a plain
# loop (fp32 and bf16 autocast), the accuracy of bf16 beside fp32, and `nnrecipe run`'s wall time on the GPU.
# Every figure goes to stdout and to $OUT/gpu.txt (the device tool brings $OUT back).
#
#     bash benchmarks/gpu.sh            # under 9 minutes (the device's per-command limit is 10); GPU_BUDGET=default
#
# torch with CUDA is expected on the device machine; nnrecipe is installed from this checkout (with its
# dependencies) when it does not import.
set -uo pipefail
OUT="${OUT:-$(mktemp -d)}"
LOG="$OUT/gpu.txt"
BUDGET="${GPU_BUDGET:-quick}"
cd "$(dirname "$0")/.."
say() { echo "$@" | tee -a "$LOG"; }

python -c "import nnrecipe" 2>/dev/null || pip install -q -e . 2>&1 | tail -2
say "== $(date -u) $(python -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee -a "$LOG"

say "== engine against the plain loop (target >= 0.95)"
for precision in fp32 bf16; do
  timeout 60 python benchmarks/loop_throughput.py --device cuda --precision "$precision" --samples 65536 \
    --epochs 3 --batch-size 256 --repeats 3 2>&1 | tee -a "$LOG"
done

say "== bf16 autocast beside fp32 (mnist1d as its experiment says)"
timeout 90 python benchmarks/loop_throughput.py --device cuda --accuracy 2>&1 | tee -a "$LOG"

say "== nnrecipe run on the GPU ($BUDGET budget; one process, units in turn)"
timeout 300 python benchmarks/run_default.py --budgets "$BUDGET" --device cuda --no-plain 2>&1 | tee -a "$LOG"
say "== done $(date -u)"
