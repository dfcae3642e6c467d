"""Stand-ins for the platform's 14 API services: each answers like a healthy service would, behind
the same maintenance guard the real services import."""

from __future__ import annotations

import json
from collections.abc import Callable


def standin_handler(code: str) -> Callable[[dict], dict]:
    def handler(event: dict) -> dict:
        body = {"service": code, "status": "ok", "path": event.get("rawPath", "/")}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}

    return handler
