"""CDK constructs and the OPS stack. ``catalogue`` and ``registry.json`` are plain data that the
embedded local stack also reads, so importing this package does not import CDK."""
