"""Redaction removes identities and keeps everything a diagnosis needs."""

from __future__ import annotations

import dataclasses

from gpudoctor.model.redact import redact
from gpudoctor.model.serialize import report_to_json
from tests.model.test_serialize import make_report


def test_identifiers_hostname_and_user_names_are_gone():
    report = make_report()
    text = report_to_json(redact(report))
    assert "GPU-1234" not in text
    assert "node7" not in text
    assert "/home/ada/" not in text
    assert "/home/<user>/venv/bin/python" in text


def test_redaction_keeps_the_facts_rules_use():
    red = redact(make_report())
    assert red.redacted
    gpu = red.nvml.gpus[0]
    assert gpu.uuid is not None and gpu.uuid.startswith("GPU-")
    assert gpu.compute_capability == "9.0"
    assert red.nvml.driver_version == "590.48.01"


def test_redaction_is_idempotent():
    once = redact(make_report())
    assert redact(once) == once


def test_uuids_in_variables_are_redacted_with_the_same_token_as_the_field():
    report = make_report()
    uuid = "GPU-12345678-abcd-ef01-2345-6789abcdef01"
    gpu = report.nvml.gpus[0]
    report = dataclasses.replace(
        report,
        host=dataclasses.replace(report.host, env={"CUDA_VISIBLE_DEVICES": uuid}),
        nvml=dataclasses.replace(report.nvml, gpus=(dataclasses.replace(gpu, uuid=uuid),)),
    )
    red = redact(report)
    assert uuid not in report_to_json(red)
    assert red.host.env["CUDA_VISIBLE_DEVICES"] == red.nvml.gpus[0].uuid
    assert red.nvml.gpus[0].uuid == "GPU-<redacted>-0"


def test_hostname_is_replaced_as_a_whole_word_only():
    report = make_report()
    report = dataclasses.replace(
        report,
        host=dataclasses.replace(report.host, hostname="vm"),
        nvml=dataclasses.replace(report.nvml, message="vm: nvmlInit failed on vm-2"),
    )
    red = redact(report)
    assert red.nvml.message == "<redacted>: nvmlInit failed on vm-2"


def test_the_user_name_is_redacted_anywhere_in_a_path():
    report = make_report()
    report = dataclasses.replace(
        report,
        host=dataclasses.replace(
            report.host,
            env={"LD_LIBRARY_PATH": "/scratch/jdoe/cuda/lib64:/opt/jdoe:/usr/lib"},
        ),
    )
    red = redact(report, user_names=("jdoe", "root"))
    assert red.host.env["LD_LIBRARY_PATH"] == "/scratch/<user>/cuda/lib64:/opt/<user>:/usr/lib"
    assert "jdoe" not in report_to_json(red)


def test_common_system_names_do_not_mangle_paths():
    report = dataclasses.replace(
        make_report(),
        host=dataclasses.replace(make_report().host, env={"CUDA_HOME": "/root/cuda"}),
    )
    assert redact(report, user_names=("root",)).host.env["CUDA_HOME"] == "/root/cuda"


def test_windows_home_with_forward_slashes():
    report = dataclasses.replace(
        make_report(),
        host=dataclasses.replace(make_report().host, env={"CUDA_PATH": "C:/Users/Ada/cuda"}),
    )
    assert redact(report).host.env["CUDA_PATH"] == "C:/Users/<user>/cuda"


def test_the_history_document_equals_the_redacted_report_diagnosed_again():
    """History scrubs the check document in one walk; it must say what redacting the report
    and diagnosing it again would say (findings quote UUIDs and home folders)."""
    import json

    from gpudoctor import kb
    from gpudoctor.model.redact import redacted_document
    from gpudoctor.rules import diagnose
    from gpudoctor.userfiles.read import load_report
    from tests.conftest import DATA

    knowledge = kb.load()
    for name in (
        "failure__torch_cudnn_shadowed_by_ld_library_path.json",
        "failure__one_gpu_lost.json",
        "linux-x86_64__nvidia-h100-mig__590.48.01__load.json",
    ):
        report = load_report(DATA / "reports" / name)
        text = report_to_json(report)
        assert "/home/ada" in text or "GPU-" in text  # something to redact
        fast = redacted_document(report, diagnose(report, knowledge), user_names=("ada",))
        slow_report = redact(report, user_names=("ada",))
        slow = json.loads(report_to_json(slow_report, diagnose(slow_report, knowledge)))
        assert json.loads(json.dumps(fast)) == slow, name
