"""One error shape for every API answer that is not a success.

    {"code": "not_found", "detail": "Not found.", "errors": []}

`code` is stable and meant for programs; `detail` is a human sentence in the request's
language; `errors` lists field problems (`field` is the dotted path inside the body or
the name of the query/path parameter). Stack traces never leave the server: unexpected
exceptions are logged and answered with a 500 in the same shape.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger("fokus.api")


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    code: str
    detail: str
    errors: list[FieldErrorOut] = []


# Routers declare these so the OpenAPI document lists every error an operation can answer:
# `@router.get("/x", response={200: XOut, **ERROR_RESPONSES})`.
ERROR_RESPONSES: dict[int, type[ErrorOut]] = {
    400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut,
}

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 422: "validation_error",
    429: "too_many_requests", 500: "server_error",
}


def error_body(
    status: int, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"code": _CODES.get(status, "error"), "detail": detail, "errors": errors or []}


def _default_detail(status: int) -> str:
    return {
        400: _("The request is not valid."),
        401: _("Authentication required: send “Authorization: Bearer <token>” or sign in."),
        403: _("You do not have permission to do this."),
        404: _("Not found."),
        422: _("The request has invalid fields."),
        429: _("Too many requests."),
    }.get(status, _("The request failed."))


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    # ninja puts the parameter source first ("body", "query", "path") and, for bodies, the
    # argument name next; a client knows neither, it knows the field it sent.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form", "file"}:
        source = parts[0]
        parts = parts[1:]
        if source == "body" and len(parts) > 1:
            parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_errors(exc: NinjaValidationError) -> list[dict[str, str]]:
    return [
        {"field": _field_name(err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in exc.errors
    ]


def _django_validation_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": field, "message": str(message)}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": "", "message": str(m)} for m in exc.messages]


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, detail: str,
                errors: list[dict[str, str]] | None = None) -> HttpResponse:
        return api.create_response(request, error_body(status, detail, errors), status=status)

    # Handlers take `Any`: ninja types them as receiving the class or the instance.
    def on_validation(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(request, 422, _default_detail(422), _validation_errors(exc))

    def on_django_validation(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(request, 400, _default_detail(400), _django_validation_errors(exc))

    def on_authentication(request: HttpRequest, exc: Any) -> HttpResponse:
        detail = exc.message if exc.message != "Unauthorized" else _default_detail(401)
        response = respond(request, 401, detail)
        response["WWW-Authenticate"] = 'Bearer realm="fokus"'
        return response

    def on_http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja's own messages ("Forbidden", "CSRF check Failed") are terse English; ours
        # are sentences already.
        detail = exc.message
        if detail in {"Forbidden", "Unauthorized", "Not Found", "Too many requests."}:
            detail = _default_detail(exc.status_code)
        elif detail == "CSRF check Failed":
            detail = _("CSRF check failed: send the X-CSRFToken header with session requests.")
        return respond(request, exc.status_code, detail)

    def on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(request, 404, _default_detail(404))

    def on_permission_denied(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(request, 403, _default_detail(403))

    def on_unexpected(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
        return respond(request, 500, _("Internal error; it has been logged."))

    api.add_exception_handler(NinjaValidationError, on_validation)
    api.add_exception_handler(DjangoValidationError, on_django_validation)
    api.add_exception_handler(AuthenticationError, on_authentication)
    api.add_exception_handler(AuthorizationError, on_http_error)
    api.add_exception_handler(Throttled, on_http_error)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_permission_denied)
    api.add_exception_handler(Exception, on_unexpected)


@csrf_exempt  # a 404 must not turn into an HTML CSRF page for unsafe methods
def not_found_view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Unknown paths under the API answer in the API's shape, not with an HTML page."""
    import json

    return HttpResponse(
        json.dumps(error_body(404, _default_detail(404))), status=404,
        content_type="application/json",
    )
