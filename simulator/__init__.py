"""churnlight simulator."""
