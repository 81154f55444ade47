"""Probes: the only code that touches the host (files, NVML, child processes)."""
