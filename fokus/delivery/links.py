"""Sign-in-free signed links in messages: "Open the lesson", "Answer the task".

A link names one person and one material or task, signed with SECRET_KEY
(django.core.signing, its own salt) and valid for LINK_MAX_AGE. Nothing is stored:
the signature is the proof. Opening it shows that one page, read-only, for that
person, without a session (fokus/delivery/web/links.py); it never signs anybody in,
so a forwarded e-mail exposes one lesson text for two weeks, not an account.
docs/delivery.md, "Signed links".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.urls import reverse

from fokus.core import clock

LINK_SALT = "fokus.delivery.link"
LINK_MAX_AGE = timedelta(days=14)


class LinkTarget(StrEnum):
    MATERIAL = "m"
    TASK = "t"


@dataclass(frozen=True)
class SignedLink:
    person_id: int
    target: LinkTarget
    object_id: int


class LinkExpired(Exception):
    """A genuine link, older than LINK_MAX_AGE."""


class LinkInvalid(Exception):
    """Not a link Fokus signed (altered, truncated, or signed with another key)."""


def link_token(*, person_id: int, target: LinkTarget, object_id: int) -> str:
    # A compact "person.target.id.issued" value keeps the URL short for a Telegram
    # button; the issue time comes from the clock (not TimestampSigner's wall clock),
    # so a scripted run with `fokus tick --now` signs as of its instant.
    issued = signing.b62_encode(int(clock.now().timestamp()))
    return signing.Signer(salt=LINK_SALT).sign(
        f"{person_id}.{target.value}.{object_id}.{issued}"
    )


def link_url(*, person_id: int, target: LinkTarget, object_id: int) -> str:
    """The absolute URL (FOKUS_PUBLIC_URL) of a signed link."""
    token = link_token(person_id=person_id, target=target, object_id=object_id)
    path = reverse("delivery_links:open", kwargs={"link_token": token})
    return settings.FOKUS_PUBLIC_URL.rstrip("/") + path


def link_resolve(token: str) -> SignedLink:
    """What a token names; LinkExpired or LinkInvalid otherwise."""
    try:
        value = signing.Signer(salt=LINK_SALT).unsign(token)
    except signing.BadSignature as error:
        raise LinkInvalid from error
    parts = value.split(".")
    if len(parts) != 4:
        raise LinkInvalid
    person, target, object_id, issued = parts
    try:
        link = SignedLink(int(person), LinkTarget(target), int(object_id))
        issued_at = signing.b62_decode(issued)
    except ValueError as error:
        raise LinkInvalid from error
    if clock.now().timestamp() - issued_at > LINK_MAX_AGE.total_seconds():
        raise LinkExpired
    return link
