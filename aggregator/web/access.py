"""Who may do what on the web: the one place views ask.

* No account yet: the reader answers requests from this machine only (loopback), as
  before accounts existed; everyone on it shares one read state (ANONYMOUS) and may
  use the admin pages. Other peers are told to create the first admin.
* Accounts exist: a signed-in user (a signed session cookie naming the user and their
  session key) reads with their own state; admins also use the admin pages. Visitors
  who are not signed in may read the lists and stories when feeds.yaml says
  ``access: public`` (without any state), else they are sent to the sign-in page.

The merged feeds, /healthz, /metrics and the sync APIs have their own rules (public,
private outputs' keys, app passwords) and are not gated here. ``init_app`` installs
the gate of the reader's pages and actions; admin views are wrapped in
``require_admin``, the user's own pages in ``require_sign_in``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from aggregator.config import PUBLIC
from aggregator.errors import AggregatorError
from aggregator.types import ANONYMOUS, User
from aggregator.web import aggregator
from aggregator.web.errors import wants_json

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")

# Keys of the signed session cookie.
SESSION_USER = "uid"
SESSION_KEY = "key"
# Blueprints of the reader: their pages need a reader who may read, their actions
# (POST) one who has a state. Their static files are open to all.
READER_BLUEPRINTS = ("reader", "actions")
NO_ACCOUNT_MESSAGE = (
    "This server has no accounts yet, so it answers only on the machine it runs on. "
    "Create the first admin there with: aggregator user add NAME --admin"
)


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and what they may do."""

    user: User | None  # the signed-in account
    accounts: bool  # whether any account exists
    local: bool  # whether the request comes from this machine
    public: bool  # feeds.yaml access: public

    @property
    def reader(self) -> int:
        """Whose read state the pages show and change: the user's, else ANONYMOUS's."""
        return self.user.id if self.user else ANONYMOUS

    @property
    def can_read(self) -> bool:
        if not self.accounts:
            return self.local
        return self.user is not None or self.public

    @property
    def can_mark(self) -> bool:
        """Whether the reader has a read state (signed in, or no accounts on this machine)."""
        return self.user is not None or (not self.accounts and self.local)

    @property
    def is_admin(self) -> bool:
        if not self.accounts:
            return self.local
        return self.user is not None and self.user.is_admin


def is_local_request() -> bool:
    """Whether the request comes from this machine (the peer's address, not a header)."""
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def client_address() -> str | None:
    """The address a request comes from, for the sign-in limits: the peer's, or, when
    the peer is this machine (a reverse proxy in front), the last address of its
    X-Forwarded-For (the one that proxy saw). Headers of other peers are not trusted."""
    peer = request.remote_addr
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and is_local_request():
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return peer
    return peer


def viewer() -> Viewer:
    """The Viewer of the current request (worked out once per request)."""
    found = g.get("viewer")
    if found is None:
        source = aggregator()
        user = None
        user_id, key = session.get(SESSION_USER), session.get(SESSION_KEY)
        if isinstance(user_id, int) and isinstance(key, str):
            user = source.session_user(user_id, key)
        found = g.viewer = Viewer(
            user=user,
            accounts=user is not None or source.has_users(),
            local=is_local_request(),
            public=source.config.access == PUBLIC,
        )
    assert isinstance(found, Viewer)
    return found


def sign_in(user: User) -> None:
    """Start a signed session for ``user`` (a fresh one: nothing of the session before
    is kept, the CSRF secret included)."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_KEY] = user.session_key
    g.pop("viewer", None)


def sign_out() -> None:
    session.clear()
    g.pop("viewer", None)


def may_administer() -> bool:
    """Whether the current request may use the admin pages."""
    return viewer().is_admin


def _refuse(signed_in_needed: bool) -> BaseResponse:
    """The answer to a request its viewer may not make: the sign-in page (or 401 for
    scripts) when signing in would help, else 403."""
    current = viewer()
    if not current.accounts:
        abort(403, NO_ACCOUNT_MESSAGE)
    if signed_in_needed and current.user is None:
        if wants_json() or request.method != "GET":
            abort(401, "Sign in first.")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    abort(403, "Only an administrator may do this.")


def require_admin(view: Callable[_Params, _Result]) -> Callable[_Params, _Result | BaseResponse]:
    """Wrap an admin view: sign-in for visitors, 403 for readers."""

    @functools.wraps(view)
    def guarded(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result | BaseResponse:
        if not may_administer():
            return _refuse(signed_in_needed=True)
        return view(*args, **kwargs)

    return guarded


def require_sign_in(
    view: Callable[_Params, _Result],
) -> Callable[_Params, _Result | BaseResponse]:
    """Wrap a view of the user's own account: sign-in for visitors."""

    @functools.wraps(view)
    def guarded(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result | BaseResponse:
        if viewer().user is None:
            return _refuse(signed_in_needed=True)
        return view(*args, **kwargs)

    return guarded


def require_state(view: Callable[_Params, _Result]) -> Callable[_Params, _Result | BaseResponse]:
    """Wrap a view that shows the reader's own state (the starred list): sign-in for
    visitors of a public server."""

    @functools.wraps(view)
    def guarded(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result | BaseResponse:
        if not viewer().can_mark:
            return _refuse(signed_in_needed=True)
        return view(*args, **kwargs)

    return guarded


def gate_reader() -> BaseResponse | None:
    """Before every request to the reader: who may see its pages and use its actions."""
    if request.blueprint not in READER_BLUEPRINTS or request.endpoint == "reader.static":
        return None
    current = viewer()
    allowed = current.can_mark if request.blueprint == "actions" else current.can_read
    return None if allowed else _refuse(signed_in_needed=True)


def template_context() -> dict[str, Viewer]:
    try:
        return {"viewer": viewer()}
    except AggregatorError:  # an error page while the database is down: nobody
        return {"viewer": Viewer(user=None, accounts=True, local=False, public=False)}


def init_app(app: Flask) -> None:
    """Install the gate of the reader and the ``viewer`` of every template."""
    app.before_request(gate_reader)
    app.context_processor(template_context)
