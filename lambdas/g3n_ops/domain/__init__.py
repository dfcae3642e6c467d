"""Domain logic: what OPS does, independent of how it is invoked."""
