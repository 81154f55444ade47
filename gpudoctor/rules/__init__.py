"""Rules: pure functions from a report (and the knowledge base) to findings."""
