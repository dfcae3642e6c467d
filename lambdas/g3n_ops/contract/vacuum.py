"""What a vacuum request must say."""

from __future__ import annotations

# Typed in full by the operator on every vacuum request (dry-runs included).
CONFIRMATION_PHRASE = "VACUUM ALL DATA PERMANENTLY"
