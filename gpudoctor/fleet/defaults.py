"""The defaults of the options that bound a check run on a node through srun.

Apart from :mod:`gpudoctor.fleet.remote`, which uses them, so that ``gpudoctor check``'s
options are defined without loading what runs srun (and the report model with it):
``gpudoctor check --help`` imports this module alone.
"""

from __future__ import annotations

REMOTE_TIMEOUT_S = 180.0
"""--remote-timeout's default: a full check with both frameworks takes under a minute on a
node; the rest covers a slow shared file system importing them the first time."""
IMMEDIATE_S = 10
"""--immediate's default: seconds srun waits for the allocation before it gives up."""
