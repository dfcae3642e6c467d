"""Lambda entry points. Each is thin: parse the event, call domain logic, map errors."""
