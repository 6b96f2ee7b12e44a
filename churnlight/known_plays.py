"""The playbook library's play ids, for the data contract's `activities.play` check.

Validation lives in ``features``, which must not import ``serving`` (where the library is
read), so the CLI reads the library here and hands the ids down
(``validate_source(known_plays=...)``, ``FeatureOptions.known_plays``)."""

from __future__ import annotations

from features.errors import ChurnlightError
from serving.playbooks import load_playbooks
from serving.settings import load_settings


def known_play_ids() -> tuple[str, ...] | None:
    """The ids of the configured playbook library (``CHURNLIGHT_PLAYBOOKS_PATH``), or None
    when it cannot be read: a broken library is `churnlight serve`'s error to report, and
    must not stop a source from being validated (the play check is then skipped). The
    settings are read afresh: the environment of this call, not a cached earlier one."""
    try:
        library = load_playbooks(load_settings().playbooks_path)
    except ChurnlightError:  # an unreadable library, or a serving setting with a bad value
        return None
    return tuple(library.ids)
