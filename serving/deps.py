"""Dependencies that hand the app's state to routes (async: no thread hop per request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.cache import ServingState, StateHolder


async def current_holder(request: Request) -> StateHolder:
    return request.app.state.holder


async def current_state(request: Request) -> ServingState:
    """The state at the start of the request; the whole request uses this one object."""
    return request.app.state.holder.current()


HolderDep = Annotated[StateHolder, Depends(current_holder)]
StateDep = Annotated[ServingState, Depends(current_state)]
