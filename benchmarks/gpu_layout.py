"""Memory layout on a GPU: ResNet-50 inference, NCHW vs channels-last, per precision.

Measures what verify's default layout should be: for each precision (fp32, fp16 and bf16
autocast) and layout, a plain hand-written torchvision-style ResNet-50 (see plain_torch.py)
runs ``--iters`` timed forward passes at ``--batch`` after warm-up; CUDA events time them.
Prints one line per configuration and the channels-last speed-up; exits 2 without a GPU.

    python benchmarks/gpu_layout.py [--batch 128] [--iters 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import torch
    from plain_torch import resnet

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(0)
    print(
        f"# {name}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
        f"batch {args.batch}, {args.iters} iterations"
    )
    model = resnet((3, 4, 6, 3), bottleneck=True).cuda().eval()
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    results: dict[tuple[str, str], float] = {}
    for precision, dtype in (
        ("fp32", None),
        ("amp-fp16", torch.float16),
        ("amp-bf16", torch.bfloat16),
    ):
        for layout in ("nchw", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            m = model.to(memory_format=fmt)
            xi = x.contiguous(memory_format=fmt)
            ctx = (
                torch.autocast("cuda", dtype=dtype)
                if dtype is not None
                else torch.autocast("cuda", enabled=False)
            )
            with torch.inference_mode(), ctx:
                for _ in range(5):
                    m(xi)
                torch.cuda.synchronize()
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(args.iters):
                    m(xi)
                end.record()
                torch.cuda.synchronize()
            ips = args.batch * args.iters / (start.elapsed_time(end) / 1000.0)
            results[(precision, layout)] = ips
            print(f"resnet50 {precision:9s} {layout:14s} {ips:10.0f} img/s")
    for precision in ("fp32", "amp-fp16", "amp-bf16"):
        ratio = results[(precision, "channels_last")] / results[(precision, "nchw")]
        print(f"channels-last / NCHW, {precision}: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
