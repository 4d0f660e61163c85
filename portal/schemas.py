"""JSON shapes of the account API. Unknown fields are refused (S15)."""

from __future__ import annotations

from typing import Annotated

import msgspec


class StrictStruct(msgspec.Struct, forbid_unknown_fields=True):
    """Base for every write schema: listed fields only."""


class RegisterRequest(StrictStruct):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    display_name: Annotated[str, msgspec.Meta(max_length=200)]
    district_code: Annotated[str, msgspec.Meta(max_length=5)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=2)] = "ko"


class RegisterResponse(msgspec.Struct):
    message: str


class LoginRequest(StrictStruct):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    totp: Annotated[str, msgspec.Meta(max_length=12)] | None = None


class UserRead(msgspec.Struct):
    id: int
    email: str
    display_name: str
    roles: list[str]
    language: str
    district_code: str | None
    residency_verified: bool
    totp_enabled: bool


class FieldError(msgspec.Struct):
    field: str
    message: str


class ErrorResponse(msgspec.Struct):
    """The error shape of every endpoint: a translated ``detail`` and per-field ``errors``."""

    status_code: int
    detail: str
    errors: list[FieldError] = []


class Health(msgspec.Struct):
    status: str
    database: bool


class AmountRead(msgspec.Struct):
    """What a typed KRW amount reads as: whole won, as the page shows it, exactly, and the hint."""

    amount: int
    shown: str
    exact: str
    echo: str
