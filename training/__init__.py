"""churnlight training."""
