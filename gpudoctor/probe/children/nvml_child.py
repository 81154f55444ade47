"""Child process: initialise NVML through nvidia-ml-py, print an NvmlInfo as one JSON line."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


def main() -> int:
    try:
        import gpudoctor  # noqa: F401 - only checks that the package is importable
    except ImportError:  # run from a source checkout without installation
        sys.path.append(str(Path(__file__).resolve().parents[3]))
    from gpudoctor.model.report import NvmlInfo

    try:
        import pynvml
    except ImportError as exc:
        info = NvmlInfo(
            status="bindings_missing",
            message=f"the NVML Python bindings (nvidia-ml-py) are not installed: {exc}",
        )
    else:
        from gpudoctor.probe.nvml_collect import collect_nvml

        info = collect_nvml(pynvml)
    # asdict gives the same JSON as gpudoctor.model.serialize.to_dict for these plain
    # dataclasses, without importing the serializer (this child must start fast).
    print(json.dumps(dataclasses.asdict(info)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
