"""gpudoctor: will deep learning work on this machine, and if not, why and how to fix it."""

__version__ = "0.1.0"
