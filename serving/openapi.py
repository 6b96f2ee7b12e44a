"""The published OpenAPI document: FastAPI's, with errors filed as problem details and the
server's own limits.

- every 4xx/5xx response is ``application/problem+json`` (``serving.problems``);
- ``POST /v1/score`` says how many items a batch may hold (``CHURNLIGHT_MAX_BATCH``), so a
  client learns the limit from the schema rather than from a 413;
- query parameters without a ``null`` branch: a query string cannot carry a null, and an
  optional filter is left out rather than sent empty;
- the models' examples as written: FastAPI drops every ``null`` from the document
  (``exclude_none``), which leaves examples without their required nullable fields.

``docs/openapi.json`` is this document for the default settings (``python -m serving.openapi
docs/openapi.json`` writes it; a test keeps it equal to the app's).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from serving import schemas
from serving.problems import PROBLEM_JSON
from serving.settings import ServingSettings

JSON = "application/json"


def openapi_builder(app: FastAPI, settings: ServingSettings) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: build the document once, then serve the same object."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = finish(document, settings)
        return app.openapi_schema

    return build


def finish(document: dict[str, Any], settings: ServingSettings) -> dict[str, Any]:
    """``document`` with problem media types and the batch limit."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _drop_null(parameter["schema"])
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    _as_problem(response)
    schemas = document.get("components", {}).get("schemas", {})
    _restore_examples(schemas)
    request = schemas.get("ScoreRequest", {}).get("properties", {})
    for name in ("account_ids", "rows"):
        for branch in request.get(name, {}).get("anyOf", [request.get(name, {})]):
            if branch.get("type") == "array":
                branch["maxItems"] = settings.max_batch
    return document


def _drop_null(schema: dict[str, Any]) -> None:
    branches = schema.get("anyOf")
    if branches is None:
        return
    kept = [b for b in branches if b.get("type") != "null"]
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


def _restore_examples(components: dict[str, Any]) -> None:
    for name, schema in components.items():
        model = getattr(schemas, name, None)
        extra = getattr(model, "model_config", {}).get("json_schema_extra")
        if isinstance(extra, dict) and "examples" in extra:
            schema["examples"] = json.loads(json.dumps(extra["examples"]))


def _as_problem(response: dict[str, Any]) -> None:
    content = response.get("content")
    if not content or JSON not in content:
        return
    plain = content.pop(JSON)
    target = content.setdefault(PROBLEM_JSON, {})
    if "schema" in plain:
        target["schema"] = plain["schema"]
    for key in ("example", "examples"):
        if key in plain and key not in target:
            target[key] = plain[key]


def document_for_defaults() -> dict[str, Any]:
    """The document of an app with default settings and no environment (docs/openapi.json)."""
    from serving.app import create_app

    settings = ServingSettings.model_construct(**_defaults())
    return create_app(settings).openapi()


def _defaults() -> dict[str, Any]:
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in ServingSettings.model_fields.items()
    }


def main(argv: list[str]) -> int:
    text = json.dumps(document_for_defaults(), indent=2, ensure_ascii=False) + "\n"
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
