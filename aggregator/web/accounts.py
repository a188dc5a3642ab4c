"""Accounts on the web: signing in and out, a user's own settings (password, app
passwords, the key of private outputs) and the admins' Users page.

Every form is a POST with a CSRF token (security.py). Secrets are shown once, in the
page that answers the form that made them, and never put in the session cookie
(signed, not encrypted).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response as BaseResponse

from aggregator.errors import AccountError, AuthenticationError, TooManyAttemptsError
from aggregator.types import ADMIN, READER, ROLES, User
from aggregator.web import aggregator, state
from aggregator.web.access import (
    client_address,
    require_admin,
    require_sign_in,
    sign_in,
    sign_out,
    viewer,
)
from aggregator.web.present import local_path

blueprint = Blueprint("accounts", __name__)

Page = tuple[str, int] | str
FORMATS = ("atom", "rss", "json")


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return (
        render_template(template, site_title=state().config.site.title, **context),
        status,
    )


def _redirect(endpoint: str, **values: Any) -> BaseResponse:
    return redirect(url_for(endpoint, **values), code=303)


def _current_user() -> User:
    user = viewer().user
    assert user is not None  # require_sign_in
    return user


# --- signing in and out --------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Page | BaseResponse:
    """The sign-in form; a right name and password start a signed session."""
    next_path = local_path(request.values.get("next"), url_for("reader.river"))
    current = viewer()
    if request.method == "GET":
        if current.user is not None:
            return redirect(next_path, code=303)
        return _page("login.html", next=next_path, name="", error=None, viewer=current)
    name = request.form.get("name", "")[:200]
    password = request.form.get("password", "")[:2000]
    try:
        user = aggregator().authenticate(name, password, address=client_address())
    except TooManyAttemptsError as e:
        page, status = _page(
            "login.html", 429, next=next_path, name=name, error=f"{e.message.capitalize()}."
        )
        return Response(page, status, headers={"Retry-After": str(e.retry_after_seconds)})
    except AuthenticationError:
        # The form again, with the message (200, as sign-in pages do: a 401 would need a
        # WWW-Authenticate challenge no browser could answer).
        return _page("login.html", next=next_path, name=name, error="Wrong name or password.")
    sign_in(user)
    return redirect(next_path, code=303)


@blueprint.post("/logout")
def logout() -> BaseResponse:
    sign_out()
    return _redirect("accounts.login")


# --- the user's own settings ---------------------------------------------------------------


def _settings_page(status: int = 200, **context: Any) -> tuple[str, int]:
    user = _current_user()
    source = aggregator()
    private_outputs = [
        (
            output.title,
            [(fmt, source.output_url(name, fmt, key=user.feed_token)) for fmt in FORMATS],
        )
        for name, output in source.outputs().items()
        if output.private
    ]
    return _page(
        "settings.html",
        status,
        user=user,
        app_passwords=source.app_passwords(user.id),
        private_outputs=private_outputs,
        api_url=request.host_url.rstrip("/") + url_for("greader.root"),
        fever_url=request.host_url.rstrip("/") + url_for("fever.endpoint"),
        **{"error": None, "notice": None, "new_secret": None, **context},
    )


@blueprint.get("/settings")
@require_sign_in
def settings() -> Page:
    return _settings_page()


@blueprint.post("/settings/password")
@require_sign_in
def change_own_password() -> Page:
    user = _current_user()
    source = aggregator()
    new = request.form.get("password", "")
    if new != request.form.get("confirm", ""):
        return _settings_page(400, error="The two new passwords differ.")
    try:
        source.authenticate(user.name, request.form.get("current", ""), address=client_address())
        source.change_password(user.id, new)
    except TooManyAttemptsError as e:
        return _settings_page(429, error=f"{e.message.capitalize()}.")
    except AuthenticationError:
        return _settings_page(400, error="The current password is wrong.")
    except AccountError as e:
        return _settings_page(400, error=f"{e.message.capitalize()}.")
    # A new password signs every session out; this one goes on with the new key.
    updated = source.get_user(user.id)
    assert updated is not None
    sign_in(updated)
    return _settings_page(notice="Password changed; your other sessions are signed out.")


@blueprint.post("/settings/app-passwords")
@require_sign_in
def create_app_password() -> Page:
    try:
        made = aggregator().create_app_password(_current_user().id, request.form.get("label", ""))
    except AccountError as e:
        return _settings_page(400, error=f"{e.message.capitalize()}.")
    return _settings_page(new_secret=made)


@blueprint.post("/settings/app-passwords/<int:app_password_id>/revoke")
@require_sign_in
def revoke_app_password(app_password_id: int) -> BaseResponse:
    if not aggregator().revoke_app_password(_current_user().id, app_password_id):
        raise NotFound("You have no such app password.")
    return _redirect("accounts.settings")


@blueprint.post("/settings/feed-key")
@require_sign_in
def reset_feed_key() -> Page:
    aggregator().reset_feed_token(_current_user().id)
    return _settings_page(notice="New feed key made; the old addresses no longer work.")


# --- the admins' Users page ----------------------------------------------------------------


def _users_page(status: int = 200, **context: Any) -> tuple[str, int]:
    source = aggregator()
    users = source.list_users()
    return _page(
        "users.html",
        status,
        users=users,
        app_password_counts={user.id: len(source.app_passwords(user.id)) for user in users},
        roles=ROLES,
        **{"error": None, "notice": None, **context},
    )


def _user_form_id() -> int:
    user_id = request.view_args.get("user_id") if request.view_args else None
    if not isinstance(user_id, int) or aggregator().get_user(user_id) is None:
        raise NotFound("There is no such user.")
    return user_id


@blueprint.get("/admin/users")
@require_admin
def users() -> Page:
    return _users_page()


@blueprint.post("/admin/users")
@require_admin
def add_user() -> Page:
    name, password = request.form.get("name", ""), request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return _users_page(400, error="The two passwords differ.")
    try:
        user = aggregator().add_user(name, password, admin=request.form.get("role") == ADMIN)
    except AccountError as e:
        return _users_page(400, error=f"{e.message.capitalize()}.")
    return _users_page(notice=f"User {user.name} added ({user.role}).")


@blueprint.post("/admin/users/<int:user_id>/role")
@require_admin
def set_role(user_id: int) -> Page:
    _user_form_id()
    role = request.form.get("role", "")
    if role not in (ADMIN, READER):
        raise BadRequest("role must be admin or reader")
    try:
        user = aggregator().set_role(user_id, role)
    except AccountError as e:
        return _users_page(400, error=f"{e.message.capitalize()}.")
    return _users_page(notice=f"{user.name} is now {'an admin' if user.is_admin else 'a reader'}.")


@blueprint.post("/admin/users/<int:user_id>/password")
@require_admin
def set_password(user_id: int) -> Page:
    _user_form_id()
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return _users_page(400, error="The two passwords differ.")
    try:
        aggregator().change_password(user_id, password)
    except AccountError as e:
        return _users_page(400, error=f"{e.message.capitalize()}.")
    return _users_page(notice="Password changed; that user's sessions are signed out.")


@blueprint.post("/admin/users/<int:user_id>/remove")
@require_admin
def remove_user(user_id: int) -> Page | BaseResponse:
    _user_form_id()
    if request.form.get("confirm") != "yes":
        return _users_page(400, error="Tick the box to confirm the removal.")
    try:
        aggregator().remove_user(user_id)
    except AccountError as e:
        return _users_page(400, error=f"{e.message.capitalize()}.")
    current = viewer().user
    if current is not None and current.id == user_id:
        sign_out()
        return _redirect("accounts.login")
    return _users_page(notice="User removed.")
