"""Where the project is and what cdk.json says: read without the CDK (tests, tools and the local
stack ask this without loading aws_cdk and starting a jsii kernel)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text()).get("context", {})
