"""Exit statuses and the error types every layer raises."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The process exit statuses, the same for every command."""

    OK = 0
    """No error finding (or, with ``--strict``, no warning either)."""
    PROBLEMS = 1
    """At least one error finding, or a verification that failed."""
    BAD_INPUT = 2
    """A usage error or bad input: a malformed version, a corrupt report, an unknown name."""
    INTERNAL = 3
    """gpudoctor itself failed."""


class GpudoctorError(Exception):
    """Base of every error gpudoctor raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class BadInputError(GpudoctorError):
    """The user gave input we cannot use; the message names the problem in one line."""

    exit_code = ExitCode.BAD_INPUT


class ReportFormatError(BadInputError):
    """A saved report is missing, corrupt, or from a newer schema."""


class KnowledgeBaseError(GpudoctorError):
    """A data file of the knowledge base is malformed (a packaging bug, not user input)."""


class PlanError(GpudoctorError):
    """No environment fits the target machine; the message names the nearest working one."""

    exit_code = ExitCode.PROBLEMS


class UnreachableError(GpudoctorError):
    """Something gpudoctor had to read over the network did not answer (a conda channel for
    ``make-env --solve``): not the user's input, not gpudoctor's fault; nothing was written."""

    exit_code = ExitCode.PROBLEMS


class OutputExistsError(BadInputError):
    """The output file exists and ``--force`` was not given."""


class SlurmUnavailableError(BadInputError):
    """SLURM's client commands are missing, its configuration too, or its controller does not
    answer; ``cause`` says which."""

    NOT_INSTALLED = "not_installed"
    CONFIG_MISSING = "config_missing"
    CONTROLLER_UNREACHABLE = "controller_unreachable"
    FAILED = "failed"
    """The command answered with an error of another kind (its message says which)."""

    def __init__(self, message: str, cause: str = FAILED) -> None:
        super().__init__(message)
        self.cause = cause
