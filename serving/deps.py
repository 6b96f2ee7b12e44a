"""Dependencies that hand the app's state to routes (async: no thread hop per request), and
the app-wide refusal of query parameters a route does not take."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from serving.cache import ServingState, StateHolder


async def current_holder(request: Request) -> StateHolder:
    return request.app.state.holder


async def current_state(request: Request) -> ServingState:
    """The state at the start of the request; the whole request uses this one object."""
    return request.app.state.holder.current()


HolderDep = Annotated[StateHolder, Depends(current_holder)]
StateDep = Annotated[ServingState, Depends(current_state)]


async def known_query(request: Request) -> None:
    """422 ``invalid-request`` for a query parameter the route does not take: a typo such as
    ``?limt=5`` or ``?risk=high`` would otherwise be ignored and answer the wrong page."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _query_names(dependant)
    unknown = sorted(name for name in set(request.query_params.keys()) if name not in known)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "Extra inputs are not permitted",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


def _query_names(dependant: Any) -> set[str]:
    """The query parameters of a route and of its dependencies."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
