"""Gainsight PX request bodies. Unknown fields are ignored, as the vendor does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from obliviate.domain.events import INT64_MAX, INT64_MIN


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Location(_Strict):
    countryName: str | None = None
    countryCode: str | None = None
    stateName: str | None = None
    stateCode: str | None = None
    city: str | None = None
    street: str | None = None
    postalCode: str | None = None
    continent: str | None = None
    regionName: str | None = None
    timeZone: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class UserIn(_Strict):
    """A user object as clients send it. Read-only fields (``createDate``, ``id``,
    ``aptrinsicId``, ...) are accepted and ignored by leaving them out of this model."""

    identifyId: str | None = Field(default=None, max_length=512)
    type: str | None = None
    gender: str | None = None
    email: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    signUpDate: int | None = None
    firstVisitDate: int | None = None
    title: str | None = None
    phone: str | None = None
    score: int | None = None
    role: str | None = None
    subscriptionId: str | None = None
    accountId: str | None = None
    location: Location | None = None
    propertyKeys: list[str] | None = None
    customAttributes: dict[str, Any] | None = None
    globalUnsubscribe: bool | None = None
    sfdcContactId: str | None = None


class AccountIn(_Strict):
    """An account as clients send it; read-only fields (``numberOfUsers``, ``createDate``,
    ``lastModifiedDate``) are accepted and ignored."""

    id: str | None = Field(default=None, min_length=1, max_length=512)
    name: str | None = None
    trackedSubscriptionId: str | None = None
    sfdcId: str | None = None
    lastSeenDate: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    dunsNumber: str | None = None
    industry: str | None = None
    numberOfEmployees: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    sicCode: str | None = None
    website: str | None = None
    naicsCode: str | None = None
    plan: str | None = None
    location: Location | None = None
    propertyKeys: list[str] | None = None
    customAttributes: dict[str, Any] | None = None
    parentGroupId: str | None = None
    renewalDate: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    healthScore: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    gsId: str | None = None
    nps: float | None = Field(default=None, allow_inf_nan=False)
    csm: str | None = None


class CustomEventIn(_Strict):
    eventName: str = Field(min_length=1, max_length=255)
    identifyId: str = Field(min_length=1, max_length=512)
    propertyKey: str = Field(min_length=1)
    userType: str = "USER"
    date: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    attributes: dict[str, Any] | None = None
    accountId: str | None = None
    globalContext: dict[str, Any] | None = None


class IdentifyIdBody(_Strict):
    identifyId: str | None = None
