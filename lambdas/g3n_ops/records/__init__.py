"""Typed records: what the store reads and writes, and the conditions each write is made under."""
