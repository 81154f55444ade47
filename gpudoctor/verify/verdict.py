"""The verdict: pure rules over recorded measurements, per model and overall, with reasons."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gpudoctor.verify import figures
from gpudoctor.verify.health import judge_telemetry
from gpudoctor.verify.model import Comparison, FrameworkEnv, Run, VerifyResult
from gpudoctor.verify.references import References

LARGE_MODELS = ("resnet50", "vgg16", "resnet152", "inception_v3")
"""Models for which a GPU must beat the CPU clearly (§9.4 item 5); never LeNet-5."""
MIN_SPEEDUP = 3.0
SPEEDUP_MIN_BATCH = 32
MIN_BLOCKS = 5
MAX_SPREAD = 0.10
FINGERPRINT_FACTOR = 2.0
REL_TOLERANCE = {"fp32": 5e-3, "tf32": 5e-2, "amp-fp16": 1e-1, "amp-bf16": 2e-1}
"""Largest error over the largest reference logit; TF32 and AMP also need the same top-1 class.
For TF32 and AMP this is a floor: see ROUNDING_FACTOR."""
ROUNDING_FACTOR = 3.0
"""TF32/AMP: the limit is this many times the error the precision's rounding alone gives the
same model on the CPU (Comparison.rounding_error), when that exceeds the floor. A deep network
amplifies rounding (on an H200, ResNet-152 under fp16 autocast differed from the CPU by 0.18 of
the logit scale; emulated rounding alone gives 0.17 here): a fixed limit would call that a
fault. A faulty GPU's garbage, zeros or NaN still differ by 1 or more."""
UNCHECKED_CEILING = 0.5
"""TF32/AMP without a rounding figure (Keras alone): above the floor but below this, the
difference may be rounding and only warns; above it no rounding explains it, and it fails."""


def tolerance(c: Comparison) -> float:
    """The largest relative error ``c`` may show: the precision's floor, or the rounding's."""
    floor = REL_TOLERANCE.get(c.precision, REL_TOLERANCE["fp32"])
    if c.precision == "fp32" or c.rounding_error is None:
        return floor
    return max(floor, ROUNDING_FACTOR * c.rounding_error)


EXPECTED_PASS, EXPECTED_FAIL = 0.7, 0.4


class Level(enum.Enum):
    """How much a reason weighs: notes inform, warnings pass with a caveat, failures fail."""

    NOTE = "note"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """Ordering: note < warn < fail."""
        return {"note": 0, "warn": 1, "fail": 2}[self.value]


@dataclass(frozen=True, kw_only=True)
class Reason:
    """Why a model or the whole run is not a clean pass (or a note worth reading)."""

    level: Level
    code: str
    message: str
    model: str | None = None
    framework: str | None = None
    device: str | None = None


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The overall verdict, one per model, and every reason behind them."""

    overall: str
    """``pass``, ``warn`` or ``fail``."""
    models: tuple[tuple[str, str], ...]
    """(model, verdict) in the order they ran; verdict ``skipped`` for a model none of whose
    runs was timed."""
    reasons: tuple[Reason, ...]

    def for_run(self, run: Run) -> str:
        """The verdict of one table row: the reasons about its model, framework and device.

        A run the budget skipped was not proven, so it never reads ``pass``: ``skipped``.
        """
        verdict = label(
            r
            for r in self.reasons
            if r.model == run.model
            and r.framework in (None, run.framework)
            and r.device in (None, run.device)
        )
        return "skipped" if verdict == "pass" and run.status == "skipped" else verdict


def label(reasons: object) -> str:
    """``fail`` if any reason fails, else ``warn`` if any warns, else ``pass``."""
    worst = max((r.level.rank for r in reasons), default=0)  # type: ignore[attr-defined]
    return {0: "pass", 1: "warn", 2: "fail"}[worst]


def judge(result: VerifyResult, refs: References) -> Verdict:
    """Apply every rule; root causes fail whatever the speed, then speed is judged."""
    reasons: list[Reason] = []
    for env in result.frameworks:
        reasons += _framework(result, env)
    reasons += _no_gpu_found(result)
    reasons += [_harness_error(e.framework, e.model, e.device, e.message) for e in result.errors]
    for run in result.runs:
        reasons += _run(result, run, refs)
    reasons += _skipped_summary(result)
    reasons += [r for c in result.comparisons if (r := _comparison(c)) is not None]
    reasons += _speedups(result)
    reasons += _fingerprints(result, refs)
    reasons += _precision_unused(result)
    reasons += _layout_unused(result)
    if result.hardware is not None:
        from gpudoctor.verify.hwverdict import judge_hardware  # it imports Reason from here

        reasons += judge_hardware(result.hardware, refs)
    if result.frameworks and not any(env.installed for env in result.frameworks):
        # Nothing could run at all: an install that was never exercised is not proven.
        msg = "no framework is installed here, so nothing was verified (gpudoctor make-env)"
        if result.settings.framework != "all":
            # The other framework was not looked at: "no framework is installed" would be false
            # for `--framework tensorflow` beside a working torch.
            fw = result.settings.framework
            msg = (
                f"nothing was verified: --framework {fw} asked for {fw} alone, and it is not "
                "installed in this Python environment (gpudoctor make-env)"
            )
        reasons.append(Reason(level=Level.FAIL, code="nothing_installed", message=msg))
    elif (
        result.settings.models
        and not figures.ok_runs(result)
        and not any(r.level is Level.FAIL for r in reasons)
    ):
        reasons.append(Reason(level=Level.WARN, code="nothing_timed", message="no run was timed"))
    models = tuple((m, _model_label(result, m, reasons)) for m in result.settings.models)
    return Verdict(overall=label(reasons), models=models, reasons=tuple(reasons))


def _precision_unused(result: VerifyResult) -> list[Reason]:
    """A GPU precision asked for where no model ran on a GPU: nothing ran in it, say so.

    CPU runs are always fp32 (the reference), so `--device cpu --precision amp-bf16` timed fp32
    while the summary line read "amp-bf16".
    """
    precision = result.settings.precision
    if precision == "fp32" or not result.settings.models:
        return []
    if any(r.device != "cpu" and r.status == "ok" for r in result.runs):
        return []
    msg = (
        f"--precision {precision} applies to GPU runs only and no model ran on a GPU: "
        "the CPU runs are fp32, the reference, so nothing here ran in "
        f"{precision}"
    )
    return [Reason(level=Level.NOTE, code="precision_not_run", message=msg)]


def _layout_unused(result: VerifyResult) -> list[Reason]:
    """A --layout asked for where no PyTorch model was timed: nothing ran in it, say so.

    --layout is PyTorch's alone and Keras always runs NHWC, so `--framework tensorflow --layout
    nchw` timed NHWC while nothing said the option had been dropped. A note, as for
    --precision: the run itself is sound, and scripts pass the option throughout.
    """
    layout = result.settings.layout
    if layout == "auto" or not result.settings.models:
        return []
    if any(r.framework == "torch" and r.status == "ok" for r in result.runs):
        return []
    why = (
        "--framework tensorflow runs Keras alone"
        if result.settings.framework == "tensorflow"
        else "no PyTorch model was timed"
    )
    msg = (
        f"--layout {layout} sets PyTorch's memory layout and {why}; Keras is always "
        f"channels-last (NHWC), so --layout changed nothing here"
    )
    return [Reason(level=Level.NOTE, code="layout_not_run", message=msg)]


SKIPPED_SUMMARY = "skipped_summary"
"""The code of the one note that stands for the CPU runs the budget skipped (text and Markdown
show it instead of theirs; JSON keeps each run's own, with its advice)."""


def _skipped_summary(result: VerifyResult) -> list[Reason]:
    """One note for the CPU runs the time budget skipped, when there are several: `verify
    --quick` on a laptop read eight notes alike but for the model's name and the number."""
    skipped = [r for r in result.runs if r.status == "skipped" and r.device == "cpu"]
    if len(skipped) < 2:
        return []
    frameworks: dict[str, list[str]] = {}
    for run in skipped:
        frameworks.setdefault(run.model, []).append(run.framework)
    if len({tuple(f) for f in frameworks.values()}) == 1:
        every = " and ".join(next(iter(frameworks.values())))
        which = f"{', '.join(frameworks)} in {every}"
    else:
        which = ", ".join(f"{m} ({' and '.join(f)})" for m, f in frameworks.items())
    budget = result.settings.cpu_budget_s
    advised = [r.advised_budget_s for r in skipped]
    if all(a is not None for a in advised):
        advice = f"--time-budget {max(a for a in advised if a is not None)} runs them all"
    else:
        advice = "each one's advice: --format json"
    msg = f"{len(skipped)} CPU runs skipped, projected past the {budget:,g} s budget: {which}; "
    return [Reason(level=Level.NOTE, code=SKIPPED_SUMMARY, message=msg + advice)]


def _model_label(result: VerifyResult, model: str, reasons: list[Reason]) -> str:
    """The model's verdict; ``skipped`` when nothing was held against it and none of its runs
    was timed (the budget ruled them all out, or no device could run it): such a model was not
    proven, and ``pass`` told a reader of the JSON that VGG-16 passed `verify --quick` on a CPU
    that skipped it."""
    verdict = label(r for r in reasons if r.model == model)
    timed = any(run.model == model and run.status == "ok" for run in result.runs)
    return "skipped" if verdict == "pass" and not timed else verdict


def _harness_error(fw: str, model: str | None, device: str | None, message: str) -> Reason:
    where = " ".join(x for x in (fw, model, device) if x)
    return Reason(
        level=Level.FAIL,
        code="run_failed",
        message=f"{where} failed: {message}",
        model=model,
        framework=fw,
        device=device,
    )


def _framework(result: VerifyResult, env: FrameworkEnv) -> list[Reason]:
    fw, settings = env.framework, result.settings
    if not env.installed:
        # under --framework all, one framework verified and the other absent is a note, as
        # check's GD-TORCH-001/GD-TF-001 are information ('not a fault'): a PyTorch-only
        # environment, as the README installs it, was WARN for that alone
        others = any(e.installed for e in result.frameworks if e is not env)
        level = Level.FAIL if settings.framework != "all" else Level.NOTE if others else Level.WARN
        msg = f"{fw} is not installed in this Python environment; nothing verified with it"
        return [Reason(level=level, code="framework_missing", message=msg, framework=fw)]
    if env.error is not None:
        return [_harness_error(fw, None, None, env.error)]
    out = [
        Reason(level=Level.WARN, code="setup_warning", message=w, framework=fw)
        for w in env.warnings
    ]
    if env.unsupported:
        # The harness's limit, not the install's: warn, and still judge what setup saw.
        out.append(
            Reason(level=Level.WARN, code="not_verifiable", message=env.unsupported, framework=fw)
        )
    if _cpu_is_what_there_is(result, env):
        return out  # one note for every framework so: _no_gpu_found
    return out + _framework_gpu(settings.device, env)


def _cpu_is_what_there_is(result: VerifyResult, env: FrameworkEnv) -> bool:
    """--quick on a machine without a GPU (onboarding a laptop, a CPU node): the CPU is what
    there is to verify; it is said, rather than failing an install `gpudoctor check` calls
    fine."""
    settings = result.settings
    return (
        env.installed
        and env.error is None
        and not settings.gpu_required
        and settings.device != "cpu"
        and not env.gpus
        and _no_gpu_here(env)
    )


def _no_gpu_found(result: VerifyResult) -> list[Reason]:
    """One note for the frameworks that found no GPU for the same reason (there were two
    notes, the same but for the framework's name, on every machine without a GPU)."""
    by_why: dict[str, list[FrameworkEnv]] = {}
    for env in result.frameworks:
        if _cpu_is_what_there_is(result, env):
            by_why.setdefault(_host_gpus(env), []).append(env)
    out = []
    for why, envs in by_why.items():
        versions = " and ".join(
            f"{e.framework} {e.version}" if e.version else e.framework for e in envs
        )
        msg = (
            f"no GPU found ({why}): verified {versions} on the CPU only; "
            "`gpudoctor verify --device cpu` asks for exactly that"
        )
        unverified = [
            f"{e.framework} can use {e.unverified_gpus}" for e in envs if e.unverified_gpus
        ]
        if unverified:
            # on a Mac "no GPU found" read as if the Apple GPU were missing
            msg += (
                f"; {', '.join(unverified)}, which verify runs no model on (it reaches GPUs "
                "through torch.cuda)"
            )
        fw = envs[0].framework if len(envs) == 1 else None
        out.append(Reason(level=Level.NOTE, code="no_gpu_found", message=msg, framework=fw))
    return out


def _no_gpu_here(env: FrameworkEnv) -> bool:
    """NVML finds no GPU, or there is no NVIDIA driver at all (its library is not found)."""
    if env.nvml_gpu_count is not None:
        return env.nvml_gpu_count == 0
    return "not found" in (env.nvml_error or "").lower()


_CPU_ONLY_HINT = (
    "; on a machine meant to be CPU-only, `gpudoctor verify --device cpu` verifies the CPU alone"
)
"""The default --device all fails without a GPU; say how to verify a CPU-only machine."""


def _framework_gpu(device: str, env: FrameworkEnv) -> list[Reason]:
    fw = env.framework
    if device == "cpu":
        return []
    # Only the default asks for the CPU and the GPUs; cuda or cuda:N asked for a GPU on purpose.
    hint = _CPU_ONLY_HINT if device == "all" else ""
    version = f"{fw} {env.version}" if env.version else fw
    if not env.gpus:
        host = _host_gpus(env)
        if not env.cuda_build and env.nvml_gpu_count:
            return [
                Reason(
                    level=Level.FAIL,
                    code="cpu_only_build",
                    message=(
                        f"no GPU could be verified with {fw}: {version} is a CPU-only build but "
                        f"{host}; install a CUDA build (gpudoctor make-env) and run "
                        f"`gpudoctor check`{hint}"
                    ),
                    framework=fw,
                )
            ]
        build = "a CPU-only build" if not env.cuda_build else f"built for CUDA {env.cuda_version}"
        return [
            Reason(
                level=Level.FAIL,
                code="no_gpu",
                message=(
                    f"no GPU could be verified with {fw}: {version} is {build} and sees no "
                    f"GPU ({host}); run `gpudoctor check` for the cause and the fix{hint}"
                ),
                framework=fw,
            )
        ]
    if not env.cudnn_enabled:
        return [
            Reason(
                level=Level.FAIL,
                code="cudnn_not_used",
                message=(
                    f"{version} runs on the GPU without cuDNN (cuDNN "
                    f"{env.cudnn_version or 'not found'}): convolutions run 2-2.6x slower; "
                    "install a build with cuDNN and run `gpudoctor check`"
                ),
                framework=fw,
            )
        ]
    return []


def _host_gpus(env: FrameworkEnv) -> str:
    if env.nvml_gpu_count is None:
        return f"NVML cannot be read: {env.nvml_error or 'unknown error'}"
    n = env.nvml_gpu_count
    return f"this machine has {n} NVIDIA GPU{'s' if n != 1 else ''}" if n else "NVML finds no GPU"


def _run(result: VerifyResult, run: Run, refs: References) -> list[Reason]:
    def reason(level: Level, code: str, message: str) -> Reason:
        return Reason(
            level=level,
            code=code,
            message=f"{run.framework} {run.model} {run.device}: {message}",
            model=run.model,
            framework=run.framework,
            device=run.device,
        )

    if run.status == "skipped":
        return [reason(Level.NOTE, "skipped", run.message or "skipped")]
    if run.status != "ok":
        return [reason(Level.FAIL, "run_failed", run.message or "failed")]
    out: list[Reason] = []
    if run.oom_batch_sizes:
        tried = ", ".join(str(b) for b in run.oom_batch_sizes)
        out.append(
            reason(
                Level.NOTE,
                "oom_backoff",
                f"out of memory at batch {tried}; ran at batch {run.batch_size}",
            )
        )
    if len(run.block_seconds) < MIN_BLOCKS:
        out.append(
            reason(
                Level.WARN,
                "too_few_blocks",
                f"only {len(run.block_seconds)} timed blocks (need {MIN_BLOCKS})",
            )
        )
    if run.spread is not None and run.spread > MAX_SPREAD:
        # a CPU run's causes name no GPU: a laptop without one read 'a shared GPU'
        causes = (
            "another process on these CPUs, the CPU governor or throttling"
            if run.device == "cpu"
            else "another process, a shared GPU, the CPU governor or throttling"
        )
        out.append(
            reason(
                Level.WARN,
                "noisy",
                f"spread {run.spread:.0%} of the median (over {MAX_SPREAD:.0%}): {causes}",
            )
        )
    frac = figures.fraction_of_peak(result, run)
    if frac is not None and frac > 1.0:
        out.append(
            reason(
                Level.NOTE,
                "above_peak",
                f"{frac:.0%} of the best {run.precision} matmul rate any probe reached on this "
                "device: timing noise, or convolutions computed with fewer multiplications than "
                "counted (Winograd or FFT); no model really runs faster than the device",
            )
        )
    if run.device == "cpu":
        return out
    out += [reason(Level(f.level), f.code, f.message) for f in judge_telemetry(run.telemetry)]
    if run.role == "main":
        out += [reason(lv, code, msg) for lv, code, msg in _band(result, run, refs)]
        out += [reason(lv, code, msg) for lv, code, msg in _expected(run, refs)]
    return out


def _band(result: VerifyResult, run: Run, refs: References) -> list[tuple[Level, str, str]]:
    band, frac = refs.band(run.model, run.precision), figures.fraction_of_peak(result, run)
    if band is None or frac is None:
        return []
    if frac < band.low:
        level = Level.FAIL if band.verified and frac < band.low / 2 else Level.WARN
        return [
            (
                level,
                "below_band",
                f"{frac:.1%} of the measured {run.precision} matmul peak, below the "
                f"{band.low:.0%} a healthy GPU reaches ({band.source})",
            )
        ]
    if frac > band.high:
        return [
            (
                Level.NOTE,
                "above_band",
                f"{frac:.0%} of the measured matmul peak: the peak probe may have run low",
            )
        ]
    return []


def _expected(run: Run, refs: References) -> list[tuple[Level, str, str]]:
    for row in refs.expected:
        key = (row.framework, row.model, row.mode, row.precision, row.batch_size, row.layout)
        # like with like: the same GPU model, configuration, batch and memory layout
        if row.gpu == run.device_name and key == (
            run.framework,
            run.model,
            run.mode,
            run.precision,
            run.batch_size,
            run.layout,
        ):
            share = (run.images_per_second or 0.0) / row.images_per_second
            if share >= EXPECTED_PASS:
                return []
            failing = share < EXPECTED_FAIL and row.verified
            return [
                (
                    Level.FAIL if failing else Level.WARN,
                    "below_expected",
                    f"{share:.0%} of the {row.images_per_second:,.0f} images/s expected on "
                    f"{row.gpu} at batch {row.batch_size}, {row.layout} ({row.source})",
                )
            ]
    return []


def _comparison(c: Comparison) -> Reason | None:
    tol = tolerance(c)
    what = f"{c.candidate} vs {c.reference}"
    device = c.candidate.split()[-1]

    def fail(code: str, message: str, level: Level = Level.FAIL) -> Reason:
        return Reason(
            level=level,
            code=code,
            message=f"{c.model}: {message}",
            model=c.model,
            framework=c.framework,
            device=device,
        )

    if not c.finite:
        return fail("output_not_finite", f"{what}: NaN or infinity in the logits")
    if c.rel_error > tol:
        if c.precision == "fp32":
            limit = f"limit {tol:g} for fp32"
        elif c.rounding_error is None:
            limit = f"limit {tol:g} for {c.precision}; its rounding on this model was not measured"
        else:
            limit = (
                f"limit {tol:.2g} for {c.precision}: {ROUNDING_FACTOR:g} x the "
                f"{c.rounding_error:.2g} its rounding alone gives this model on the CPU"
            )
        unexplained = c.precision == "fp32" or c.rounding_error is not None
        if not unexplained and c.rel_error <= UNCHECKED_CEILING:
            return fail(
                "output_mismatch",
                f"{what}: logits differ by {c.rel_error:.2g} of their scale ({limit}): "
                f"could be {c.precision} rounding in a deep network or a fault; run with "
                "--framework all (torch measures the rounding) or --precision fp32 to tell",
                Level.WARN,
            )
        return fail(
            "output_mismatch",
            f"{what}: logits differ by {c.rel_error:.2g} of their scale ({limit}): "
            "a bad driver, miscompiled kernels or memory errors",
        )
    flips = [
        i
        for i, (a, m) in enumerate(zip(c.top1_agree, c.rel_margins, strict=False))
        if not a and m > tol
    ]
    if c.precision != "fp32" and flips:
        return fail(
            "top1_mismatch",
            f"{what}: different top-1 class on {len(flips)} of {len(c.top1_agree)} "
            "inputs although the reference was clear",
        )
    return None


def _speedups(result: VerifyResult) -> list[Reason]:
    out: list[Reason] = []
    for s in figures.speedups(result):
        if s.model not in LARGE_MODELS or s.ratio >= MIN_SPEEDUP:
            continue
        base = {"model": s.model, "framework": s.framework, "device": s.device}
        text = (
            f"{s.framework} {s.model} {s.device}: GPU only {s.ratio:.1f}x the CPU at batch "
            f"{s.batch_size}"
        )
        if s.batch_size >= SPEEDUP_MIN_BATCH:
            out.append(
                Reason(
                    level=Level.FAIL,
                    code="slow_gpu",
                    message=f"{text} (a working GPU is at least {MIN_SPEEDUP:g}x)",
                    **base,
                )
            )
        else:
            out.append(
                Reason(
                    level=Level.NOTE,
                    code="speedup_small_batch",
                    message=f"{text} (not judged below batch {SPEEDUP_MIN_BATCH})",
                    **base,
                )
            )
    return out


def _fingerprints(result: VerifyResult, refs: References) -> list[Reason]:
    out: list[Reason] = []
    if result.settings.precision != "fp32":
        # The reference ratios are FP32 (CUDA-core) figures. Tensor cores speed models up
        # unevenly: on a healthy H200 under bf16 with channels-last, GoogLeNet ran at 1.05x
        # ResNet-50 where fp32 gives 2.3x, so the ratio says nothing about a fault there.
        return out
    for (model, fw, device), ratio in sorted(figures.ratios_to_anchor(result).items()):
        ref = refs.fingerprint(model)
        if ref is None:
            continue
        off = ratio / ref.ratio
        if 1 / FINGERPRINT_FACTOR <= off <= FINGERPRINT_FACTOR:
            continue
        out.append(
            Reason(
                level=Level.WARN,
                code="fingerprint",
                message=(
                    f"{fw} {model} {device}: {ratio:.2f}x ResNet-50's images/s where "
                    f"{ref.ratio:g}x is typical ({ref.source}); a fault in this model's path "
                    "(e.g. a convolution without cuDNN)"
                ),
                model=model,
                framework=fw,
                device=device,
            )
        )
    return out
