"""Who calls the Google Reader API, and how its errors read.

A request carries the Auth token of ClientLogin as ``Authorization: GoogleLogin
auth=<token>``; a POST may carry it in ``T`` instead (Miniflux allows it). A POST's
``T`` action token, when given, must be that token (``/token`` hands it out), except
FeedMe's empty one and Reeder's ``x``, which FreshRSS accepts too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Response, g, request
from werkzeug.exceptions import HTTPException

from aggregator.errors import (
    AggregatorError,
    AuthenticationError,
    InvalidRequestError,
    StorageError,
    TooManyAttemptsError,
)
from aggregator.types import User
from aggregator.web import aggregator

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def _token_of_request() -> str:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, rest = header.strip().partition(" ")
        key, _, token = rest.strip().partition("=")
        if scheme != "GoogleLogin" or key != "auth" or not token:
            raise AuthenticationError("malformed Authorization header: use GoogleLogin auth=...")
        return token.strip()
    if request.method == "POST" and request.form.get("T", "").strip():
        return request.form["T"].strip()
    raise AuthenticationError("sign in first (ClientLogin), then send the Auth token")


def signed_in(view: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Wrap an API view: its user is ``g.api_user``, from the request's token."""

    @functools.wraps(view)
    def wrapped(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        token = _token_of_request()
        g.api_user = aggregator().api_user(token)
        g.api_token = token
        if request.method == "POST":
            action_token = request.form.get("T", "").strip()
            # FeedMe sends none and Reeder "x" (FreshRSS accepts both); any other must
            # be the token /token gave, which is the Auth token.
            if action_token not in ("", "x", token):
                raise AuthenticationError("wrong action token T: ask /token again")
        output = request.values.get("output")
        if output not in (None, "", "json"):
            raise InvalidRequestError(f"output={output[:20]!r} is not supported: use json")
        return view(*args, **kwargs)

    return wrapped


def api_user() -> User:
    user = g.api_user
    assert isinstance(user, User)
    return user


def text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers, content_type="text/plain; charset=utf-8")


def handle_error(error: Exception) -> Response:
    """Every error of the API as plain text: 401, 400, 429, 503 (never 500 for a
    request we understood)."""
    if isinstance(error, TooManyAttemptsError):
        return text(
            f"Error=BadAuthentication\n{error.message}\n",
            429,
            {"Retry-After": str(error.retry_after_seconds)},
        )
    if isinstance(error, AuthenticationError):
        return text(
            f"Unauthorized: {error.message}\n",
            401,
            {"Google-Bad-Token": "true", "X-Reader-Google-Bad-Token": "true"},
        )
    if isinstance(error, InvalidRequestError):
        return text(f"Bad request: {error.message}\n", 400)
    if isinstance(error, StorageError):
        return text("The database is not answering; try again in a moment.\n", 503)
    if isinstance(error, HTTPException):
        return text(f"{error.name}: {error.description}\n", error.code or 500)
    assert isinstance(error, AggregatorError)
    return text(f"Bad request: {error.message}\n", 400)
