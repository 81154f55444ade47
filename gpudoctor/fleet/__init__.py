"""Fleet: many nodes' reports gathered through SLURM or any other engine, compared side by side."""
