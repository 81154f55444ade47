"""The history of reports this machine made: kept, bounded, listed and selected (I/O)."""
