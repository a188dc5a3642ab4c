"""Who may do what on the web: the one place views ask.

Until accounts exist, the admin pages (editing feeds.yaml, refreshing feeds) answer
only requests from this machine (loopback); ``require_admin`` is what every admin
view is wrapped in, so the rule changes here alone.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort, request

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def is_local_request() -> bool:
    """Whether the request comes from this machine (the peer's address, not a header)."""
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def may_administer() -> bool:
    """Whether the current request may use the admin pages."""
    return is_local_request()


def require_admin(view: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Wrap an admin view: 403 for anyone who may not administer."""

    @functools.wraps(view)
    def guarded(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        if not may_administer():
            abort(403, "Only an administrator may do this.")
        return view(*args, **kwargs)

    return guarded
