"""Why an answer or a review decision is refused; each message is a sentence for the user."""

from __future__ import annotations


class ReviewError(ValueError):
    """A refused write. `field` names the form field at fault ("" for the whole request)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AnswerRefused(ReviewError):
    """The participant's answer cannot be saved or submitted as it is (a 400)."""


class FileRefused(AnswerRefused):
    """An uploaded file is refused; the message names the file."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="files")


class ReviewForbidden(ReviewError):
    """The person may not do this at all (a 403)."""


class ClaimConflict(ReviewError):
    """Another curator holds the answer, or it was decided meanwhile (a 409)."""


class AlreadyDecided(ClaimConflict):
    """The attempt is no longer awaiting review."""
