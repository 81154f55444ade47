"""Planning environments: from a target machine and the knowledge base to an environment spec."""
