"""The PostgreSQL the history tests run against: started by `make postgres` (.ci/postgres),
which prints its URL; `make test` passes it as CHURNLIGHT_TEST_POSTGRES_URL. Each test gets
a schema of its own (dropped after), so tests running in parallel never share tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict


class TestDatabases(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_TEST_", extra="ignore")

    postgres_url: str = "postgresql://churnlight:churnlight@127.0.0.1:5432/churnlight_test"
    """The database .ci/postgres creates."""


def postgres_schema_url() -> Iterator[str]:
    """A fresh schema in the test database, as an Ibis URL whose search_path is that schema."""
    import psycopg

    url = TestDatabases().postgres_url
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {url.split('@')[-1]} ({err}); start it with "
            "`make postgres` (installs and starts a local cluster) or set "
            "CHURNLIGHT_TEST_POSTGRES_URL"
        )
    with admin:
        admin.execute(f'create schema "{schema}"')
        try:
            separator = "&" if "?" in url else "?"
            yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
        finally:
            admin.execute(f'drop schema "{schema}" cascade')
