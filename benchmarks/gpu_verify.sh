#!/usr/bin/env bash
# Verify on a GPU in each precision and layout (PyTorch only), plus the layout benchmark: the
# runs behind the H200 rows of expected_throughput.toml and docs/verify.md. Writes into DIR.
#   benchmarks/gpu_verify.sh DIR [PYTHON]
set -u
out=${1:?usage: gpu_verify.sh DIR [PYTHON]}
py=${2:-python3}
mkdir -p "$out"
run() {  # name, then verify's options
    local name=$1; shift
    local t0=$SECONDS
    "$py" -m gpudoctor verify --quick --framework torch --device cuda --time-budget 3 --force \
        --format json --output "$out/$name.json" "$@" 2>"$out/$name.log"
    echo "$name: exit $? in $((SECONDS - t0)) s"
}
"$py" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))'
run amp-fp16-auto --precision amp-fp16
run amp-fp16-nchw --precision amp-fp16 --layout nchw
run amp-bf16-auto --precision amp-bf16
run fp32-auto --precision fp32
run tf32-auto --precision tf32
"$py" benchmarks/gpu_layout.py >"$out/layout.txt" 2>&1; echo "layout: exit $?"
