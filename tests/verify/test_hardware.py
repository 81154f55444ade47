"""--hardware's parent: one bounded child per measurement, hangs and absent peers as errors."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.model.hardware import AllReduce, AllReducePoint
from gpudoctor.model.serialize import to_dict
from gpudoctor.probe.runcmd import CmdResult, run_cmd, stream_cmd
from gpudoctor.verify.children.allreduce import rendezvous
from gpudoctor.verify.hardware import HUNG_NEXT, Limits, parse_items, run_hardware, with_floors
from gpudoctor.verify.hwverdict import judge_hardware
from gpudoctor.verify.model import ITEMS, Bandwidth, BurnDevice, HardwareSettings
from gpudoctor.verify.references import load_references
from gpudoctor.verify.verdict import Level

H100 = "NVIDIA H100 80GB HBM3"


def test_parse_items():
    assert parse_items("all") == ITEMS
    assert parse_items(" allreduce , memory ") == ("memory", "allreduce")
    with pytest.raises(BadInputError, match="'nvlink'"):
        parse_items("memory,nvlink")
    with pytest.raises(BadInputError, match="needs a list"):
        parse_items(" , ")


class FakeChildren:
    """Answers each child as a GPU box with ``gpus`` GPUs would; ``hang`` names what hangs."""

    def __init__(
        self, gpus: int = 2, hang: str = "", absent_rank: int | None = None, hang_on: str = ""
    ) -> None:
        self.gpus, self.hang, self.absent_rank = gpus, hang, absent_rank
        self.hang_on = hang_on
        """With ``hang``: the GPU the child hangs on, after measuring those before it."""
        self.calls: list[tuple[str, dict, float]] = []

    def __call__(self, argv, *, timeout_s, on_line, env):
        module, config = argv[2].rsplit(".", 1)[1], json.loads(argv[3])
        self.calls.append((module, config, timeout_s))
        what = config.get("measure", "allreduce")
        if what == self.hang:
            for event in self.events(module, config) if self.hang_on else ():
                if event["bandwidth"]["device"] == self.hang_on:
                    on_line(json.dumps({"event": "start", "device": self.hang_on}))
                    break
                on_line(json.dumps({"event": "start", "device": event["bandwidth"]["device"]}))
                on_line(json.dumps(event))
            return CmdResult(
                argv=tuple(argv), returncode=None, timed_out=True, duration_s=timeout_s
            )
        for event in self.events(module, config):
            on_line(json.dumps(event))
        return CmdResult(argv=tuple(argv), returncode=0)

    def events(self, module, config):
        if module == "allreduce":
            if self.absent_rank is not None:
                msg = "DistStoreError: Timed out after 31 seconds waiting for clients. "
                msg += "1/2 clients joined."
                return [{"event": "error", "rank": config["rank"], "message": msg}]
            if config["rank"] != 0:
                return []
            n = config["world_size"]
            point = AllReducePoint(bytes=1 << 30, time_s=0.01, algbw_gbps=100.0, busbw_gbps=175.0)
            ar = AllReduce(backend="nccl", world_size=n, device="cuda", points=(point,))
            return [{"event": "allreduce", "allreduce": to_dict(ar)}]
        measure = config["measure"]
        if measure == "devices":
            return [{"event": "devices", "devices": [f"cuda:{i}" for i in range(self.gpus)]}]
        if measure == "burn":
            b = BurnDevice(
                device=config["devices"][0], device_name=H100, rounds=3, flops=(1e13,) * 3
            )
            return [{"event": "burn", "burn": to_dict(b)}]
        out = []
        for d in config["devices"]:
            b = Bandwidth(kind=measure, device=d, device_name=H100, bytes=1 << 30, gbps=50.0)
            out.append({"event": "bandwidth", "bandwidth": to_dict(b)})
        return out


def test_every_measurement_on_every_gpu_each_in_its_own_child():
    fake = FakeChildren(gpus=2)
    hw = run_hardware(HardwareSettings(items=ITEMS, burn_s=5, device="cuda"), stream=fake)
    assert hw.errors == ()
    assert [(b.kind, b.device) for b in hw.bandwidths][:2] == [
        ("memory", "cuda:0"),
        ("memory", "cuda:1"),
    ]
    assert {b.kind for b in hw.bandwidths} == {"memory", "h2d", "d2h", "p2p"}
    assert hw.allreduce is not None and hw.allreduce.world_size == 2
    assert [b.device for b in hw.burn] == ["cuda:0", "cuda:1"]
    ranks = [c for c in fake.calls if c[0] == "allreduce"]
    assert sorted(c[1]["local_rank"] for c in ranks) == [0, 1]
    assert len({c[1]["port"] for c in ranks}) == 1  # one rendezvous
    assert all(c[2] > 0 for c in fake.calls)  # every child has a deadline
    burn_calls = [c for c in fake.calls if c[1].get("measure") == "burn"]
    assert all(c[2] > 5 for c in burn_calls)


@pytest.mark.parametrize("noise", ['{"n": ' + "9" * 5000 + "}", "[" * 100_000])
def test_a_line_json_cannot_hold_is_noise(noise):
    # a library's line of 5,000 digits or deep nesting stopped verify --hardware (ValueError
    # and RecursionError passed the JSONDecodeError this caught)
    children = FakeChildren()

    def noisy(argv, *, timeout_s, on_line, env):
        on_line(noise)
        return children(argv, timeout_s=timeout_s, on_line=on_line, env=env)

    hw = run_hardware(HardwareSettings(items=("memory",), device="cuda"), stream=noisy)
    assert hw.errors == () and [b.device for b in hw.bandwidths] == ["cuda:0", "cuda:1"]


def test_one_gpu_has_no_pairs_and_no_allreduce():
    hw = run_hardware(
        HardwareSettings(items=("p2p", "allreduce"), device="cuda"), stream=FakeChildren(gpus=1)
    )
    assert hw.bandwidths == () and hw.allreduce is None
    assert any("two GPUs" in n for n in hw.notes)


def test_a_hung_gpu_is_an_error_line_and_the_rest_is_measured():
    fake = FakeChildren(gpus=2, hang="h2d")
    hw = run_hardware(HardwareSettings(items=("memory", "h2d", "d2h"), device="cuda"), stream=fake)
    assert hw.errors and hw.errors[0].startswith("h2d: no answer within")
    assert "hung" in hw.errors[0]
    assert {b.kind for b in hw.bandwidths} == {"memory", "d2h"}


def test_a_gpu_that_hangs_mid_measurement_is_named_with_the_gpus_left_unmeasured():
    # One child measures every GPU in turn: before, the error said "memory: no answer within
    # 150 s" and the user had to guess which of eight GPUs hung, and that the ones after it
    # were never measured.
    fake = FakeChildren(gpus=4, hang="memory", hang_on="cuda:1")
    hw = run_hardware(HardwareSettings(items=("memory", "h2d"), device="cuda"), stream=fake)
    assert [b.device for b in hw.bandwidths if b.kind == "memory"] == ["cuda:0"]
    (error,) = hw.errors
    assert error.startswith("memory on cuda:1: no answer within"), error
    assert "not measured after it: cuda:2, cuda:3; run `gpudoctor check`" in error, error
    # the GPUs after it are measured by the next child; the one that hung is not waited on
    # again (each later child spent its whole deadline on it: 510 s for a GPU that hangs)
    assert [b.device for b in hw.bandwidths if b.kind == "h2d"] == ["cuda:0", "cuda:2", "cuda:3"]
    assert [c[1]["devices"] for c in fake.calls if c[1].get("measure") == "h2d"] == [
        ["cuda:0", "cuda:2", "cuda:3"]
    ]


def test_a_gpu_that_hung_is_left_out_of_the_all_reduce_and_the_burn():
    fake = FakeChildren(gpus=2, hang="memory", hang_on="cuda:1")
    hw = run_hardware(
        HardwareSettings(items=("memory", "allreduce"), burn_s=5, device="cuda"), stream=fake
    )
    assert not [c for c in fake.calls if c[0] == "allreduce"]  # NCCL would wait on it too
    assert "allreduce: not measured: cuda:1 stopped answering in memory" in hw.notes[0]
    assert [b.device for b in hw.burn] == ["cuda:0"]
    assert any(n.startswith("burn on cuda:0 only: cuda:1 stopped answering") for n in hw.notes)


def test_a_peer_that_never_joins_is_an_error_naming_the_rank():
    hw = run_hardware(
        HardwareSettings(items=("allreduce",), device="cuda"), stream=FakeChildren(absent_rank=1)
    )
    assert hw.allreduce is None
    assert "allreduce rank 0" in hw.errors[0] and "1/2 clients joined" in hw.errors[0]


def test_no_gpu_with_device_all_measures_the_host_and_fails():
    # `verify --hardware all --burn 60` on a GPU node with a CPU-only torch read PASS, with a
    # note: nothing of the GPUs it was meant to burn had been measured.
    hw = run_hardware(
        HardwareSettings(items=("memory", "h2d"), device="all"),
        stream=FakeChildren(gpus=0),
        limits=Limits(cpu_copy_bytes=1 << 20),
    )
    assert [b.device for b in hw.bandwidths] == ["cpu"]
    assert len(hw.errors) == 1 and hw.errors[0].startswith("no GPU found (torch sees none)")
    assert "--device cpu" in hw.errors[0]
    assert any("h2d: needs a GPU" in n for n in hw.notes)
    reasons = judge_hardware(with_floors(hw, load_references()), load_references())
    assert any(r.level is Level.FAIL and "no GPU found" in r.message for r in reasons)
    # asked for the host alone, it is measured and can pass
    cpu = run_hardware(
        HardwareSettings(items=("memory",), device="cpu"),
        stream=FakeChildren(gpus=0),
        limits=Limits(cpu_copy_bytes=1 << 20),
    )
    assert cpu.errors == () and [b.device for b in cpu.bandwidths] == ["cpu"]


def test_no_gpu_and_only_gpu_measurements_asked_says_nothing_was_measured():
    # `verify --hardware p2p` without a GPU read 'only the host was measured': nothing was
    hw = run_hardware(
        HardwareSettings(items=("h2d", "p2p"), device="all"), stream=FakeChildren(gpus=0)
    )
    assert hw.bandwidths == () and hw.allreduce is None
    assert hw.errors[0].startswith("no GPU found (torch sees none): nothing was measured; run")


def test_no_gpu_with_device_cuda_is_an_error():
    hw = run_hardware(
        HardwareSettings(items=("memory",), device="cuda"), stream=FakeChildren(gpus=0)
    )
    assert hw.errors == (
        "no GPU found (torch sees none): nothing was measured on cuda; run `gpudoctor check` "
        "for the cause and the fix",
    )


def test_no_gpu_with_device_cuda_n_names_no_python_none():
    # `verify --burn 2 --device cuda:0` on a machine without a GPU read "cuda:0: not among the
    # GPUs found (None)": Python's None where the reason belongs, and no pointer to check
    hw = run_hardware(HardwareSettings(burn_s=2, device="cuda:0"), stream=FakeChildren(gpus=0))
    assert hw.burn == () and hw.bandwidths == ()
    assert hw.errors == (
        "no GPU found (torch sees none): nothing was measured on cuda:0; run `gpudoctor check` "
        "for the cause and the fix",
    )


def test_a_cuda_index_past_the_last_gpu_is_bad_input():
    # a typo on a GPU machine: the models' verify refuses it (exit 2); --hardware read it as a
    # failed measurement (exit 1)
    with pytest.raises(BadInputError, match=r"^no device cuda:5: torch sees cuda:0, cuda:1$"):
        run_hardware(
            HardwareSettings(items=("memory",), device="cuda:5"), stream=FakeChildren(gpus=2)
        )


def test_floors_of_the_measured_models_are_kept_with_the_result():
    hw = run_hardware(HardwareSettings(items=("memory",), device="cuda"), stream=FakeChildren())
    hw = with_floors(hw, load_references())
    assert hw.floor(H100, "memory").gbps == 1905.0
    assert hw.floor(H100, "allreduce", 8).gbps == 460.0
    assert hw.floor("NVIDIA A100-SXM4-80GB", "memory") is None  # not measured here


# --- the real children on this CPU ------------------------------------------------------------

SMALL = Limits(
    cpu_copy_bytes=16 << 20,
    cpu_sizes=(4096, 1 << 20),
    seconds_per_size=0.05,
    init_timeout_s=10.0,
)


@pytest.mark.torch
@pytest.mark.slow
def test_the_cpu_path_for_real():
    hw = run_hardware(HardwareSettings(items=ITEMS, burn_s=1, device="cpu", ranks=2), limits=SMALL)
    assert hw.errors == (), hw.errors
    (mem,) = hw.bandwidths
    assert mem.kind == "memory" and mem.device == "cpu" and mem.gbps > 0
    ar = hw.allreduce
    assert ar is not None and ar.backend == "gloo" and ar.world_size == 2
    assert [p.bytes for p in ar.points] == [4096, 1 << 20]
    assert all(p.correct for p in ar.points)
    # two ranks: bus bandwidth equals algorithm bandwidth (2(n-1)/n = 1)
    assert all(p.busbw_gbps == pytest.approx(p.algbw_gbps) for p in ar.points)
    (burn,) = hw.burn
    assert burn.rounds >= 1 and burn.mismatched_rounds == 0 and burn.finite


@pytest.mark.torch
@pytest.mark.slow
def test_a_peer_that_never_joins_the_real_rendezvous_ends_in_the_init_timeout():
    def only_rank_0(argv, **kwargs):
        if '"rank": 1' in argv[3]:
            return CmdResult(argv=tuple(argv), returncode=None, start_error="not started (test)")
        return stream_cmd(argv, **kwargs)

    limits = Limits(cpu_sizes=(4096,), init_timeout_s=2.0)
    start = time.monotonic()
    hw = run_hardware(
        HardwareSettings(items=("allreduce",), device="cpu"), stream=only_rank_0, limits=limits
    )
    assert time.monotonic() - start < 30
    assert hw.allreduce is None
    assert "allreduce rank 0" in hw.errors[0] and "clients joined" in hw.errors[0], hw.errors


def test_a_slurm_rendezvous_port_stays_below_linuxs_ephemeral_range():
    # 20000 + job id mod 20000 reached 39999: for more than a third of job ids the port was
    # one Linux gives outgoing connections (32768-60999 by default), and a connection that
    # held it made rank 0 fail with EADDRINUSE.
    def port(job: int) -> int:
        env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_ID": str(job)}
        return int(rendezvous({}, env)["port"])

    ports = [port(job) for job in range(0, 100_000, 7)]
    assert min(ports) >= 20000 and max(ports) < 32768
    assert port(4242) != port(4243)  # each job its own, the same on both nodes


@pytest.mark.torch
@pytest.mark.slow
def test_a_rank_whose_rendezvous_port_answers_with_another_program_gives_up():
    # Another program on the port (it accepts, never answers as torch's store does): rank 1
    # waited there past its --init-timeout, forever; only the pair's own limit ended it.
    with socket.create_server(("127.0.0.1", 0)) as foreign:
        port = foreign.getsockname()[1]
        config = {
            "rank": 1,
            "world_size": 2,
            "addr": "127.0.0.1",
            "port": port,
            "device": "cpu",
            "init_timeout_s": 1.0,
            "sizes": [4096],
        }
        child = [sys.executable, "-m", "gpudoctor.verify.children.allreduce", json.dumps(config)]
        done = run_cmd(child, timeout_s=90)
    assert not done.timed_out and done.returncode == 1, done.stderr[-2000:]
    (event,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert event["event"] == "error" and event["rank"] == "1"
    assert f"127.0.0.1:{port}" in event["message"] and "another program" in event["message"]
    assert done.duration_s < 60


def test_a_child_that_hangs_for_real_is_killed_at_its_deadline(tmp_path):
    sleeper = tmp_path / "python"
    sleeper.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    sleeper.chmod(0o755)
    start = time.monotonic()
    hw = run_hardware(
        HardwareSettings(items=("memory",), device="cpu"),
        python=str(sleeper),
        limits=Limits(startup_s=1.0, per_gpu_s=0.5),
    )
    assert time.monotonic() - start < 15
    assert hw.errors[0].startswith("memory: no answer within")


def test_each_measurement_says_when_it_starts_and_the_burn_when_it_ends():
    # `verify --burn 3600` printed one line and then nothing for an hour.
    lines: list[str] = []
    run_hardware(
        HardwareSettings(items=ITEMS, burn_s=3600, device="cuda"),
        stream=FakeChildren(gpus=2),
        say=lines.append,
    )
    assert lines[:2] == ["memory on cuda:0, cuda:1 ...", "h2d on cuda:0, cuda:1 ..."]
    assert "allreduce across 2 GPUs ..." in lines
    assert lines[-1].startswith("burn 3600 s on cuda:0, cuda:1, until about ")
    assert lines[-1].endswith(" UTC ...")


@pytest.mark.torch
def test_the_child_says_which_gpu_it_starts_on_before_each(monkeypatch):
    from gpudoctor.verify.children import hardware as child

    def measured(torch, kind, device, size, repeats):
        return Bandwidth(kind=kind, device=device, device_name=H100, gbps=50.0)

    monkeypatch.setattr(child, "gpu_bandwidth", measured)
    said: list[dict] = []
    child.run({"measure": "h2d", "devices": ["cuda:0", "cuda:1"]}, said.append)
    assert [(e["event"], e.get("device") or e["bandwidth"]["device"]) for e in said] == [
        ("start", "cuda:0"),
        ("bandwidth", "cuda:0"),
        ("start", "cuda:1"),
        ("bandwidth", "cuda:1"),
    ]


def test_a_measurement_child_killed_by_a_signal_is_said_so():
    # 'burn cpu: exited with status -9': the OOM killer's SIGKILL, read as an exit code
    from gpudoctor.verify.hardware import _failure

    why = _failure("burn cpu", CmdResult(argv=("python",), returncode=-9), [])
    assert why is not None and why.startswith("burn cpu: killed by SIGKILL (the kernel's out-of")


@pytest.mark.parametrize(
    ("hang", "settings"),
    [
        ("h2d", HardwareSettings(items=("h2d",), device="cuda")),
        ("memory", HardwareSettings(items=("memory",), device="cuda")),
        ("allreduce", HardwareSettings(items=("allreduce",), device="cuda")),
        ("burn", HardwareSettings(items=(), device="cuda", burn_s=5)),
    ],
)
def test_a_gpu_that_stopped_answering_is_told_what_to_do_next(hang, settings):
    # "h2d: no answer within 90 s (a hung GPU or peer)" named the cause but no next step,
    # where verify's other failures say to run `gpudoctor check`
    hw = run_hardware(settings, stream=FakeChildren(gpus=2, hang=hang))
    assert hw.errors, hw
    for error in hw.errors:
        assert "no answer within" in error, error
        assert error.endswith(f"; {HUNG_NEXT}"), error
    assert "kernel log's Xid lines" in HUNG_NEXT and "nvidia-smi -r" in HUNG_NEXT


def test_a_measurement_on_the_cpu_that_hangs_is_not_told_to_reset_a_gpu():
    hw = run_hardware(
        HardwareSettings(items=("memory",), device="cpu"), stream=FakeChildren(hang="memory")
    )
    (error,) = hw.errors
    assert error.startswith("memory: no answer within") and "nvidia-smi" not in error
