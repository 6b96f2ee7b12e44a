"""churnlight features: the data contract, sources, validation, feature and label pipelines."""

from features.errors import ChurnlightError

__all__ = ["ChurnlightError"]
