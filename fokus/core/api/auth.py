"""API authentication: a bearer token first, then the browser session.

Both leave `request.organization` (and `request.person` where the login has one) set,
which every route uses to scope its reads.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from fokus.core.services import api_token_authenticate


class ApiTokenAuth(HttpBearer):
    openapi_description = (
        "Authorization: Bearer <token>; tokens are created with `fokus token create`."
    )

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = api_token_authenticate(token.strip())
        if api_token is None:
            # A client that sent a token meant to use it: falling through to the session
            # would hide a revoked or mistyped token behind a confusing 403 or 200.
            raise AuthenticationError(401, _("Invalid or revoked API token."))
        request.user = api_token.user
        request.organization = api_token.organization  # type: ignore[attr-defined]
        # The reverse one-to-one from User; read as an attribute so core imports no app.
        person = getattr(api_token.user, "person", None)
        if person is not None and person.organization_id != api_token.organization_id:
            person = None
        request.person = person  # type: ignore[attr-defined]
        return api_token


class SessionOrganizationAuth(SessionAuth):
    """A signed-in user who belongs to an organisation (set by the people middleware).

    CSRF is checked for unsafe methods, but only when a session is actually signed in:
    an anonymous POST gets the 401 it deserves rather than a CSRF 403.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or getattr(request, "organization", None) is None:
            return None
        return user
