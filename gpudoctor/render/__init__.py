"""Renderers: turn reports, findings and results into text; they only format."""
