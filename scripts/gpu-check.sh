#!/usr/bin/env bash
# The kit's GPU check: run it once on a GPU machine (as one command) and keep OUTDIR.
#
#   scripts/gpu-check.sh OUTDIR [--allow-software]
#
# 1. adapter: `vulkaninfo --summary` (when vulkan-tools is installed), nvidia-smi (when present)
#    and the WebGPU adapter as Deno sees it (lib/cli/gpu_info.ts --init: vendor, architecture,
#    description, software or not, limits, memory budget). A software adapter (Mesa llvmpipe /
#    lavapipe, SwiftShader) is refused, exit code 3, unless --allow-software; no adapter at all
#    exits 4 with what to install.
# 2. parity: tiny S-BASE and RL-R runs on wasm and on webgpu give the same losses (1e-4 relative).
# 3. throughput: tokens/s of training steps at d_model 256 and 512 (6 layers, 8 heads, 32 x 128
#    tokens, V 4096: the gpu preset's shapes), dense and E = 64, on webgpu, on wasm (the CPU) and,
#    when python3 has torch with CUDA, PyTorch on the GPU (scripts/torch_peer_cuda.py, the same
#    model).
# 4. slice: the gpu preset's sweep (deno task sweep --preset gpu) for 5 minutes, then stopped (a
#    rerun into OUTDIR/sweep resumes it); per-step progress in OUTDIR/slice-progress.jsonl.
# 5. summary: OUTDIR/summary.txt (printed) and summary.json; the whole log is OUTDIR/gpu-check.log.
#
# It finishes within GPU_CHECK_TOTAL_S (470 s): the measurements share what the slice leaves, and
# the slice shrinks if they ran long. Exit code 0 when every check passed, 1 when one failed.
#
# Knobs (environment; the defaults are for a GPU):
#   GPU_CHECK_TOTAL_S=470 GPU_CHECK_SLICE_S=300 GPU_CHECK_MEASURE_S=20 (timed loop per measurement)
#   GPU_CHECK_DMODELS="256 512" GPU_CHECK_LAYERS=6 GPU_CHECK_HEADS=8 GPU_CHECK_EXPERTS=64
#   GPU_CHECK_BATCH=32 GPU_CHECK_SEQ=128 GPU_CHECK_VOCAB=4096 GPU_CHECK_STEPS=5
#   GPU_CHECK_WASM_THREADS (default: cores, at most 8) GPU_CHECK_SLICE_SPEC=FILE (a sweep spec
#   instead of the gpu preset) GPU_CHECK_PYTHON (default: python3, then /usr/bin/python3)
#   GPU_CHECK_DENO=deno GPU_CHECK_GPU_MEMORY=GiB (the webgpu memory check's budget)
set -u -o pipefail

usage() { echo "usage: scripts/gpu-check.sh OUTDIR [--allow-software]" >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1
shift
ALLOW_SOFTWARE=0
for a in "$@"; do
  case "$a" in
    --allow-software) ALLOW_SOFTWARE=1 ;;
    *) usage ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT/throughput" || exit 2
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 2

TOTAL_S=${GPU_CHECK_TOTAL_S:-470}
SLICE_S=${GPU_CHECK_SLICE_S:-300}
MEASURE_S=${GPU_CHECK_MEASURE_S:-20}
DMODELS=${GPU_CHECK_DMODELS:-"256 512"}
LAYERS=${GPU_CHECK_LAYERS:-6}
HEADS=${GPU_CHECK_HEADS:-8}
EXPERTS=${GPU_CHECK_EXPERTS:-64}
BATCH=${GPU_CHECK_BATCH:-32}
SEQ=${GPU_CHECK_SEQ:-128}
VOCAB=${GPU_CHECK_VOCAB:-4096}
STEPS=${GPU_CHECK_STEPS:-5}
CORES=$(nproc 2>/dev/null || echo 1)
WASM_THREADS=${GPU_CHECK_WASM_THREADS:-$((CORES < 8 ? CORES : 8))}
DENO=${GPU_CHECK_DENO:-deno}
[ -n "${GPU_CHECK_GPU_MEMORY:-}" ] && export ROUTING_GPU_MEMORY_GIB=$GPU_CHECK_GPU_MEMORY
export NO_COLOR=1

# phase NAME STATUS SECONDS: one line of OUTDIR/phases.jsonl
phase() { printf '{"phase":"%s","status":"%s","seconds":%s}\n' "$1" "$2" "$3" >>"$OUT/phases.jsonl"; }

# run_phase NAME LIMIT_S CMD...: runs CMD under a hard time limit, records its time and status.
run_phase() {
  local name=$1 limit=$2 t0=$SECONDS rc status
  shift 2
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status="timed out after ${limit} s" ;;
    *) status="exit $rc" ;;
  esac
  phase "$name" "$status" $((SECONDS - t0))
  return $rc
}

main() {
  : >"$OUT/phases.jsonl"
  echo "== gpu-check $(date -u +%FT%TZ) on $(hostname), $CORES cores; output in $OUT"
  echo "   deno: $($DENO --version 2>/dev/null | head -1 || echo 'NOT FOUND')"
  command -v "$DENO" >/dev/null || { echo "deno not found: install it (npm install -g deno)"; return 2; }

  echo "== 1. adapter"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/nvidia-smi.txt"
  else
    echo "nvidia-smi: not present"
  fi
  if command -v vulkaninfo >/dev/null; then
    timeout 30 vulkaninfo --summary >"$OUT/vulkaninfo.txt" 2>&1
    sed -n '/^Devices:/,$p' "$OUT/vulkaninfo.txt" | grep -E "GPU[0-9]|deviceName|deviceType|driverName|driverInfo|apiVersion" | head -24
  else
    echo "vulkaninfo: not installed (Debian: apt-get install vulkan-tools); Deno's view follows"
  fi
  local t0=$SECONDS rc
  timeout 120 "$DENO" run -A lib/cli/gpu_info.ts --init --json >"$OUT/adapter.json" 2>"$OUT/adapter.stderr"
  rc=$?
  timeout 60 "$DENO" run -A lib/cli/gpu_info.ts | tee "$OUT/adapter.txt"
  phase adapter "$(case $rc in 0) echo ok ;; 3) echo software ;; 4) echo none ;; *) echo "exit $rc" ;; esac)" $((SECONDS - t0))
  case $rc in
    0) ;;
    3)
      if [ "$ALLOW_SOFTWARE" = 1 ]; then
        echo "WARNING: a software adapter (the CPU runs the shaders): going on because of --allow-software; its figures say nothing about a GPU"
      else
        echo "REFUSED: the only WebGPU adapter is a software one (the CPU runs the shaders), so this is no GPU check. Make the GPU visible to Vulkan (docs/gpu.md: the NVIDIA driver's Vulkan ICD; in a container NVIDIA_DRIVER_CAPABILITIES must include graphics), or pass --allow-software to test the script itself."
        return 3
      fi
      ;;
    4) echo "FAILED: no WebGPU adapter (see above)"; return 4 ;;
    *) echo "FAILED: the webgpu backend did not start on the adapter:"; cat "$OUT/adapter.stderr"; return 5 ;;
  esac

  echo "== 2. parity: webgpu and wasm losses on a tiny model"
  local failed=0
  run_phase parity 120 "$DENO" run -A bench/gpu_check.ts --parity --steps 4 >"$OUT/parity.json" 2>>"$OUT/parity.stderr" || failed=1
  grep -o '"ok":[a-z]*,"max_rel_diff":[-0-9.e]*' "$OUT/parity.json" || { echo "  no result:"; tail -5 "$OUT/parity.stderr"; }

  echo "== 3. throughput"
  local measure_end=$((TOTAL_S - SLICE_S - 15))
  local shape=(--layers "$LAYERS" --heads "$HEADS" --batch-size "$BATCH" --seq-len "$SEQ" --vocab-size "$VOCAB")
  local jobs=() d e
  for d in $DMODELS; do
    for e in 1 "$EXPERTS"; do jobs+=("webgpu:$d:$e"); done
  done
  local py=""
  for c in "${GPU_CHECK_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null &&
      timeout 60 "$c" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null &&
      { py=$c; break; }
  done
  if [ -n "$py" ]; then
    for d in $DMODELS; do for e in 1 "$EXPERTS"; do jobs+=("torch-cuda:$d:$e"); done; done
  else
    echo "PyTorch with CUDA: not found (python3 -c 'import torch; torch.cuda.is_available()'): skipped"
  fi
  for d in $DMODELS; do for e in 1 "$EXPERTS"; do jobs+=("wasm:$d:$e"); done; done
  local i=0 n=${#jobs[@]} job backend left cap hard file
  for job in "${jobs[@]}"; do
    IFS=: read -r backend d e <<<"$job"
    i=$((i + 1))
    file="$OUT/throughput/$(printf %02d $i)-$backend-d$d-e$e.json"
    left=$((measure_end - SECONDS))
    # Share what is left among the measurements still to run (~5 s of each is start-up); the hard
    # limit keeps 30 s for the summary whatever a measurement does.
    cap=$((left / (n - i + 1) - 5))
    [ $cap -gt "$MEASURE_S" ] && cap=$MEASURE_S
    hard=$((cap + 40))
    [ $hard -gt $((TOTAL_S - 30 - SECONDS)) ] && hard=$((TOTAL_S - 30 - SECONDS))
    if [ $left -lt 8 ] || [ $cap -lt 2 ] || [ $hard -lt 5 ]; then
      echo "  $backend d$d E$e: skipped, out of time"
      printf '{"check":"throughput","backend":"%s","d_model":%s,"layers":%s,"experts":%s,"error":"skipped: out of time"}\n' \
        "$backend" "$d" "$LAYERS" "$e" >"$file"
      phase "$backend-d$d-e$e" "skipped" 0
      continue
    fi
    if [ "$backend" = torch-cuda ]; then
      run_phase "$backend-d$d-e$e" "$hard" "$py" scripts/torch_peer_cuda.py --d-model "$d" --layers "$LAYERS" \
        --heads "$HEADS" --experts "$e" --vocab "$VOCAB" --seq "$SEQ" --batch "$BATCH" \
        --steps "$STEPS" --warmup 2 --max-seconds "$cap" >"$file" 2>>"$OUT/throughput.stderr"
    else
      run_phase "$backend-d$d-e$e" "$hard" "$DENO" run -A bench/gpu_check.ts --backend "$backend" --d-model "$d" \
        --experts "$e" "${shape[@]}" --steps "$STEPS" --warmup $([ "$backend" = wasm ] && echo 1 || echo 2) \
        --max-seconds "$cap" --threads "$WASM_THREADS" >"$file" 2>>"$OUT/throughput.stderr"
    fi
    rc=$?
    if [ $rc -ne 0 ]; then
      [ "$backend" = webgpu ] && failed=1
      printf '{"check":"throughput","backend":"%s","d_model":%s,"layers":%s,"experts":%s,"error":"exit %s (see gpu-check.log / throughput.stderr)"}\n' \
        "$backend" "$d" "$LAYERS" "$e" "$rc" >>"$file"
      tail -3 "$OUT/throughput.stderr"
    fi
    echo "  $backend d$d E$e: $(grep -o '"tokens_per_s":[0-9.]*' "$file" | tail -1) $(grep -o '"error":"[^"]*"' "$file" | tail -1)"
  done

  echo "== 4. slice of the gpu preset"
  local slice=$((TOTAL_S - SECONDS - 25))
  [ $slice -gt "$SLICE_S" ] && slice=$SLICE_S
  if [ $slice -lt 10 ]; then
    echo "  skipped: out of time"
    phase slice skipped 0
  else
    [ $slice -lt "$SLICE_S" ] && echo "  ${slice} s, not ${SLICE_S}: the measurements took longer"
    local spec=(--preset gpu)
    [ -n "${GPU_CHECK_SLICE_SPEC:-}" ] && spec=(--spec "$GPU_CHECK_SLICE_SPEC")
    t0=$SECONDS
    GPU_CHECK_PROGRESS="$OUT/slice-progress.jsonl" timeout --signal=INT --kill-after=15 "$slice" \
      "$DENO" run -A lib/cli/sweep.ts "${spec[@]}" --out "$OUT/sweep" \
      --run-module bench/gpu_slice_run.ts 2>&1 | grep -v '^$' | tail -n 40
    rc=${PIPESTATUS[0]}
    case $rc in
      0) phase slice "whole spec finished" $((SECONDS - t0)) ;;
      124 | 130 | 137) phase slice ok $((SECONDS - t0)); echo "  stopped after ${slice} s (resumable: rerun the sweep into $OUT/sweep)" ;;
      *) phase slice "exit $rc" $((SECONDS - t0)); failed=1 ;;
    esac
  fi

  phase total "$([ $failed = 0 ] && echo ok || echo failed)" "$SECONDS"
  echo "== summary"
  timeout 60 "$DENO" run -A bench/gpu_check.ts --summary "$OUT"
  return $failed
}

main 2>&1 | tee "$OUT/gpu-check.log"
exit "${PIPESTATUS[0]}"
