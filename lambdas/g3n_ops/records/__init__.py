"""Typed records: what the store reads and writes, and the rules each change is written under."""
