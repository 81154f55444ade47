"""The typed, frozen data that flows between layers: reports, findings, plans."""
