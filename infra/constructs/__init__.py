"""The OPS stack's constructs, one per concern (data, registry, functions, workflows, API, guard,
discovery, initial items, schedules). Unlike ``infra/__init__.py`` these import CDK."""
