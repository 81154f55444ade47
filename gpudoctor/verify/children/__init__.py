"""The child processes verify starts, one per framework: ``python -m gpudoctor.verify.children``."""
