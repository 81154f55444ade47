"""The user's files: reading them capped and without blocking (read.py), and saved reports."""
