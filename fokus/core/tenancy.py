"""How a request knows its organisation.

The people app's middleware sets `request.organization` and `request.person` from
the signed-in user; API token auth sets them from the token. Code below the
interfaces receives the organisation as an argument and never reads a global.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from fokus.core.models import Organization


def request_organization(request: HttpRequest) -> Organization:
    """The caller's organisation; 404 (not 403) so foreign ids reveal nothing."""
    organization = getattr(request, "organization", None)
    if organization is None:
        raise Http404
    return organization
