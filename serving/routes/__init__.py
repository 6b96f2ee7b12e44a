"""One router per resource: accounts, score, model, admin, health."""
