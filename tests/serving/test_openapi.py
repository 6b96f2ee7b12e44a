"""The published schema: docs/openapi.json is the app's, with named operations, errors as
problem details and examples that validate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serving import problems, schemas
from serving.openapi import document_for_defaults

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return document_for_defaults()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_committed_schema_is_the_apps(document) -> None:
    committed = json.loads(COMMITTED.read_text())

    assert committed == document, (
        "docs/openapi.json is stale: run `python -m serving.openapi docs/openapi.json`"
    )


def test_operations_have_short_unique_names(document) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    assert {"get_account", "list_accounts", "score", "get_model", "reload"} <= set(ids)


def test_every_error_is_a_problem_with_valid_examples(document) -> None:
    seen: set[str] = set()
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            content = response["content"]
            assert list(content) == [problems.PROBLEM_JSON], (method, path, status)
            media = content[problems.PROBLEM_JSON]
            examples = [e["value"] for e in media.get("examples", {}).values()]
            examples += [media["example"]] if "example" in media else []
            assert examples, (method, path, status)
            for example in examples:
                model = (
                    problems.NotReadyProblem if path == "/readyz" else problems.ValidationProblem
                )
                model.model_validate(example)
                kind = problems.BY_URI[example["type"]]
                assert kind.status == int(status)
                seen.add(kind.slug)
    # every kind but a bug is declared by some route
    assert seen == {k.slug for k in problems.ALL} - {"internal-error"}


def test_429_and_503_declare_retry_after(document) -> None:
    score = document["paths"]["/v1/score"]["post"]["responses"]
    assert "Retry-After" in score["429"]["headers"]
    assert "Retry-After" in score["503"]["headers"]
    account = document["paths"]["/v1/accounts/{account_id}"]["get"]["responses"]
    assert "ETag" in account["200"]["headers"] and "304" in account


def test_component_examples_validate(document) -> None:
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        model = getattr(schemas, name, None) or getattr(problems, name, None)
        for example in schema.get("examples", []):
            assert model is not None, name
            model.model_validate(example)
            checked += 1
    assert checked >= 5


def test_the_batch_limit_is_in_the_schema(document) -> None:
    request = document["components"]["schemas"]["ScoreRequest"]["properties"]
    arrays = [b for b in request["account_ids"]["anyOf"] if b.get("type") == "array"]
    assert arrays[0]["maxItems"] == 1000
