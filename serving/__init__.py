"""churnlight serving."""
