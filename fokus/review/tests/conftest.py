"""Fixtures of the answering, decision, points and file tests (defined in answer_factories)."""

from fokus.review.tests.answer_factories import english, media, seed

__all__ = ["english", "media", "seed"]
