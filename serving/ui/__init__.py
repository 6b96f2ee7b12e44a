"""Web pages for CS managers under /ui (see docs/ui.md)."""
