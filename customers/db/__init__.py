"""Database plumbing: the one lock helper and the set-based SQL helpers."""
