"""Verification: run the reference CNNs on each device and framework, time them, judge them."""
