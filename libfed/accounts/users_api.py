"""/api/v1/users: admins add people, change their roles, switch them off, issue tokens."""

from __future__ import annotations

from flask import Response

from libfed.kernel.api import PREFIX, Api, expected_version, reply
from libfed.kernel.callers import Caller
from libfed.kernel.editing import check_version, validated
from libfed.kernel.services import services

from .schemas import Token, UserChange, UserIn, UserList, UserOut
from .users import (
    UNSET,
    add_user,
    find_user,
    issue_token,
    list_users,
    render_user,
    update_user,
)

api = Api("users")
TAG = "users"


@api.route("GET", "/users", summary="List users", tag=TAG, role="admin", response=UserList)
def users_list(caller: Caller) -> Response:
    with services().db.session() as session:
        return reply({"items": [render_user(u) for u in list_users(session)]})


@api.route(
    "POST",
    "/users",
    summary="Add a user (returns their first token, once)",
    tag=TAG,
    role="admin",
    body=UserIn,
    response=Token,
    status=201,
)
def users_create(caller: Caller, body: dict) -> Response:
    values = validated(UserIn, body)
    with services().db.write() as session:
        user, token = add_user(session, values.name, values.role, actor=caller, email=values.email)
        data = render_user(user)
    return reply(
        {"user": data, "token": token},
        201,
        version=data["version"],
        location=f"{PREFIX}/users/{data['id']}",
    )


@api.route(
    "GET", "/users/{user_id}", summary="Read a user", tag=TAG, role="admin", response=UserOut
)
def users_read(caller: Caller, user_id: int) -> Response:
    with services().db.session() as session:
        data = render_user(find_user(session, user_id))
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/users/{user_id}",
    summary="Change a user's role or e-mail address, or switch them off",
    tag=TAG,
    role="admin",
    body=UserChange,
    response=UserOut,
    if_match=True,
)
def users_update(caller: Caller, user_id: int, body: dict) -> Response:
    values = validated(UserChange, body)
    expected = expected_version()
    with services().db.write() as session:
        user = find_user(session, user_id)
        check_version(user, expected)
        # An e-mail sent as null clears it; one not sent at all stays as it is.
        email = values.email if "email" in values.model_fields_set else UNSET
        update_user(
            session, user, actor=caller, role=values.role, active=values.active, email=email
        )
        data = render_user(user)
    return reply(data, version=data["version"])


@api.route(
    "POST",
    "/users/{user_id}/tokens",
    summary="Issue another token for a user",
    tag=TAG,
    role="admin",
    response=Token,
    status=201,
)
def users_token(caller: Caller, user_id: int) -> Response:
    with services().db.write() as session:
        user = find_user(session, user_id)
        token = issue_token(session, user)
        data = render_user(user)
    return reply({"user": data, "token": token}, 201)
