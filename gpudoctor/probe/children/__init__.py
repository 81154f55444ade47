"""Standalone probe scripts run as child processes (stdlib only unless they say otherwise)."""
