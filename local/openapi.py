"""The OpenAPI document of the finance API: Powertools' own, from each HTTP function's resolver, merged.

    python -m local.openapi > openapi.json
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

from local.template import Template


def document() -> dict[str, Any]:
    os.environ.setdefault("TABLE_NAME", "openapi-export")
    os.environ.setdefault("CURSOR_SECRET", "openapi-export-not-a-secret")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("STRIPE_API_KEY", "sk_test_openapi_export")
    merged: dict[str, Any] = {}
    for name, fn in Template.load().functions().items():
        if not any(e.get("Type") == "HttpApi" for e in fn.events.values()):
            continue
        spec = importlib.util.spec_from_file_location(f"_openapi_{name}", fn.code_uri / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "app"):
            continue  # POST /webhooks/stripe: Stripe's caller, not the console's (no resolver, no JWT)
        schema = json.loads(module.app.get_openapi_json_schema(title="Payments & prepaid credit", version="1"))
        if not merged:
            merged = {**schema, "paths": {}, "components": {"schemas": {}}}
        merged["paths"].update(schema["paths"])
        merged["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    return merged


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=1)
