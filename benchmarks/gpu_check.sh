#!/usr/bin/env bash
# The GPU check, in under 5 minutes on a fresh GPU machine holding a copy of this repository:
# the CUDA tests (tests/core/test_cuda.py, the CUDA cases of test_devices.py, and
# test_fast_path.py run on the GPU) and the GPU throughput table (plain fp32 loop vs gankit
# fp32 vs gankit's fast path, dcgan-64 included).
#
#   bash benchmarks/gpu_check.sh        # results in $OUT if set, else benchmarks/gpu-check/
#
# It makes a venv that sees the machine's own packages (torch and friends) and installs
# gankit into it without the network when every dependency is already there, as on the
# lent H100/H200 images; wheels of missing packages placed in .whl/ are installed first
# (docs/benchmarks.md says which and how); with a network it falls back to
# `pip install -e ".[test]"`. Each stage has a time limit so the whole stays within 5 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
results="${OUT:-benchmarks/gpu-check}"
mkdir -p "$results"
log() { echo "[gpu_check +$((SECONDS - started))s] $*" | tee -a "$results/gpu_check.log" >&2; }

venv="${GANKIT_GPU_VENV:-/tmp/gankit-gpu-venv}"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv --system-site-packages "$venv" || { log "cannot make a venv"; exit 1; }
# shellcheck disable=SC1091
. "$venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 GANKIT_LOAD_PLUGINS="" GANKIT_OFFLINE=1 PYTHONUNBUFFERED=1

if compgen -G ".whl/*.whl" >/dev/null; then
  python -m pip install -q --no-index --no-deps .whl/*.whl && log "installed carried wheels: $(ls .whl | tr '\n' ' ')"
fi
deps="torch torchaudio transformers pluggy click numpy PIL soundfile tqdm pytest hypothesis"
missing=$(python - $deps <<'EOF'
import importlib.util, sys
print(" ".join(name for name in sys.argv[1:] if importlib.util.find_spec(name) is None))
EOF
)
if [ -z "$missing" ]; then
  python -m pip install -q --no-deps --no-build-isolation -e . >"$results/pip.log" 2>&1 \
    && log "gankit installed (editable, offline)" || log "editable install failed (see pip.log); using a path hook"
else
  log "missing here: $missing; trying pip install -e .[test] (needs the network)"
  timeout 120 python -m pip install -q --retries 1 --timeout 10 -e ".[test]" >"$results/pip.log" 2>&1 \
    && log "gankit installed with its dependencies" || log "pip install failed (see pip.log); using a path hook"
fi
if ! python -c "import gankit.plugins.image" 2>/dev/null; then
  # No installer that works here: map gankit -> core/ and gankit.plugins -> plugins/ by hand.
  site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  cat >"$site/gankit_path_hook.py" <<EOF
import importlib.util, sys
def _package(name, folder):
    spec = importlib.util.spec_from_file_location(name, folder + "/__init__.py", submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
_package("gankit", "$PWD/core").plugins = _package("gankit.plugins", "$PWD/plugins")
EOF
  echo "import gankit_path_hook" >"$site/gankit_path_hook.pth"
fi
python -c "import gankit.plugins.image" || { log "gankit does not import; giving up"; exit 1; }

python - >"$results/device.json" <<'EOF'
import json, torch
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available(),
                  "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))
EOF
log "device: $(cat "$results/device.json")"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || { log "no CUDA device here"; exit 1; }

status=0
log "CUDA tests"
timeout 170 python -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/core/test_cuda.py tests/core/test_devices.py tests/core/test_fast_path.py 2>&1 | tee "$results/tests.log" | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; log "CUDA tests FAILED (see tests.log)"; }

models="dcgan-64,mlp,dcgan-32"  # the row the goal is about first: rows are written as they finish
python -c "import soundfile" 2>/dev/null && models="$models,wavegan" || log "soundfile missing: no wavegan row"
text=$(python -c "from gankit.registry import get_registry as g; r = g(); print(','.join('text-' + m for m in r.models_for('text')) if 'text' in r.domains else '')")
[ -n "$text" ] && models="$models,$text"
left=$((290 - (SECONDS - started)))
[ "$left" -ge 60 ] || left=60  # `timeout 0` would mean no limit at all
log "throughput ($models), $left s left"
timeout "$left" python benchmarks/throughput.py --device cuda --quick --repeats 2 --models "$models" \
  --out "$results/throughput.md" --json "$results/throughput.json" 2>&1 | tee "$results/throughput.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; log "throughput FAILED or ran out of time (see throughput.log)"; }
if [ -f "$results/throughput.json" ]; then
  python - "$results/throughput.json" <<'EOF' || status=1
import json, sys
rows = {row["model"]: row for row in json.load(open(sys.argv[1]))["rows"]}
ratio = rows.get("dcgan-64", {}).get("gankit fast / plain")
print(f"dcgan-64: gankit fast path / plain fp32 loop = {ratio} (goal: >= 2)")
sys.exit(0 if ratio is not None and ratio >= 2 else 1)
EOF
fi
log "done in $((SECONDS - started)) s, status $status; results in $results"
exit $status
