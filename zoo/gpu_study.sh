#!/usr/bin/env bash
# One command for a GPU machine: zoo/gpu_study.py on JAX, results packed small.
#
#   zoo/gpu_study.sh [zoo/gpu_study.py arguments]
#   zoo/gpu_study.sh --recipes beta_tcvae_dsprites --seeds 0 1 2 --max-seconds 420
#
# - Keras missing (a machine with JAX but no Keras, no internet): installs the
#   wheels in .whl/ into /tmp/gpu_study_site. Fetch them once where pip works:
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl \
#       keras==3.15.1 namex optree
# - Trains into $GPU_STUDY_DIR (default /tmp/gpu_study; pass the folder there,
#   not with --out), resuming whatever that folder holds; without arguments,
#   the three-seed beta-TCVAE dSprites runs of 300,000 steps within 420 s
#   (vectorized or not, whichever a timed block finds faster; quick metrics).
# - Copies what is small into $OUT (default $GPU_STUDY_DIR/results): the log,
#   nvidia-smi's view of the GPU, gpu_study.json, study.md / study.json of a
#   named study, every run's preset metadata (metadata.tar.gz), and the
#   presets themselves as 15 MB parts (presets.tar.part-00, -01, ...; join
#   them with `cat presets.tar.part-* | tar x`).
#
# With this workplace's device tool (one command of at most 10 minutes, results
# from $OUT): fetch the wheels into .whl/ as above (ignored: add /.whl/ to
# .git/info/exclude), then call its `run` with carry [".whl"] and the command
# `bash zoo/gpu_study.sh`, or with other arguments, e.g.
#   bash zoo/gpu_study.sh --recipes beta_vae_dsprites --seeds 0 1 2 --max-seconds 440
# A fresh machine keeps nothing and the tool brings back at most 8 files of
# 16 MiB (64 MiB in all): train what ends within the call (checkpoints stay
# there; the presets and metadata come back).
#
# Exits with zoo/gpu_study.py's status.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=${PYTHON:-python3}
WORK=${GPU_STUDY_DIR:-/tmp/gpu_study}
RESULTS=${OUT:-$WORK/results}
mkdir -p "$WORK" "$RESULTS"
LOG="$RESULTS/gpu_study.log"

if ! "$PY" -c "import keras" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "gpu_study.sh: Keras is not installed and .whl/ holds no wheels (see the header)" | tee -a "$LOG"
    exit 1
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/gpu_study_site .whl/*.whl 2>&1 | tail -3 | tee -a "$LOG"
  export PYTHONPATH=/tmp/gpu_study_site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
export KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv \
  > "$RESULTS/gpu.txt" 2>&1 || echo "no nvidia-smi" > "$RESULTS/gpu.txt"
"$PY" -c "import sys, jax, keras; print('python', sys.version.split()[0], 'jax', jax.__version__, \
'keras', keras.__version__, jax.devices())" 2>&1 | tee -a "$LOG"

if [ $# -eq 0 ]; then
  set -- --recipes beta_tcvae_dsprites --seeds 0 1 2 --steps 300000 --max-seconds 420 \
    --vectorize fastest --quick-eval
fi
"$PY" zoo/gpu_study.py --out "$WORK" "$@" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}

for f in gpu_study.json study.md study.json; do
  [ -f "$WORK/$f" ] && cp "$WORK/$f" "$RESULTS/"
done
if [ -d "$WORK/runs" ]; then
  (cd "$WORK" && find runs -name metadata.json -print0 | tar czf "$RESULTS/metadata.tar.gz" --null -T -)
  (cd "$WORK" && tar cf - runs | split -b 15m -d - "$RESULTS/presets.tar.part-")
fi
echo "gpu_study.sh: exit $status; results in $RESULTS" | tee -a "$LOG"
exit "$status"
