"""The playbook library's play ids, for the data contract's `activities.play` check.

Validation lives in ``features``, which must not import ``serving`` (where the library is
read), so the CLI reads the library here and hands the ids down
(``validate_source(known_plays=...)``, ``FeatureOptions.known_plays``)."""

from __future__ import annotations

from serving.errors import PlaybookError
from serving.playbooks import load_playbooks
from serving.settings import get_serving_settings


def known_play_ids() -> tuple[str, ...] | None:
    """The ids of the configured playbook library (``CHURNLIGHT_PLAYBOOKS_PATH``), or None
    when it cannot be read: a broken library is `churnlight serve`'s error to report, and
    must not stop a source from being validated (the play check is then skipped)."""
    try:
        library = load_playbooks(get_serving_settings().playbooks_path)
    except PlaybookError:
        return None
    return tuple(library.ids)
