"""Gainsight PX's model metadata (``/v1/admin/model/{type}/attributes``), its content lists
(features, segments, engagements, articles, knowledge-centre bots) and the event histories
other than custom events (page views, sessions, survey responses, ...). Obliviate records
none of the latter two: their lists answer empty, in the shape and with the checks of the
vendor's, so that a client syncing every stream finishes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.errors import ModelNotFound, ValidationError
from obliviate.domain.tenants import Caller
from obliviate.http.gainsight import accounts as account_wire
from obliviate.http.gainsight import query
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.fields import USER_FIELDS
from obliviate.http.gainsight.query import FieldKind, Fields
from obliviate.http.json import json_response
from obliviate.http.runtime import Handler, Runtime
from obliviate.services import attribute_catalog
from obliviate.services.attribute_catalog import CustomAttribute, ValueKind

MODELS = ("user", "account")
_TYPE_OF_KIND = {
    FieldKind.TEXT: "STRING",
    FieldKind.NUMBER: "NUMBER",
    FieldKind.DATE: "DATE_TIME",
    FieldKind.BOOLEAN: "BOOLEAN",
}
_TYPE_OF_VALUE = {
    ValueKind.STRING: "STRING",
    ValueKind.NUMBER: "NUMBER",
    ValueKind.BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True, slots=True)
class ContentList:
    """A page-numbered list: its wire key and the largest page a client may ask for."""

    path: str
    key: str
    max_page_size: int
    # What its ``filter`` may name (None: it takes no filter).
    fields: Fields | None = None


CONTENT_LISTS = (
    ContentList("/v1/feature", "features", 200),
    ContentList("/v1/segment", "segments", 200),
    ContentList(
        "/v1/engagement",
        "engagements",
        500,
        Fields(
            kinds={
                "date": FieldKind.DATE,
                **dict.fromkeys(("id", "name", "type", "state"), FieldKind.TEXT),
            }
        ),
    ),
    ContentList("/v1/articles", "articleExternalViewList", 500),
    ContentList("/v1/kcbot", "kcList", 500),
)


@dataclass(frozen=True, slots=True)
class EventHistory:
    """A scrolled event history Obliviate keeps none of: its wire key and filter fields."""

    path: str
    key: str
    filters: tuple[str, ...]


_COMMON = ("identifyId", "accountId")
EVENT_HISTORIES = (
    EventHistory(
        "/v1/events/pageView", "results", (*_COMMON, "path", "queryString", "pageTitle", "host")
    ),
    EventHistory("/v1/events/session", "sessionInitializedEvents", _COMMON),
    EventHistory("/v1/events/identify", "identifyEvents", ("identifyId", "email")),
    EventHistory("/v1/events/lead", "results", ("identifyId", "email")),
    EventHistory("/v1/events/feature_match", "featureMatchEvents", (*_COMMON, "featureId")),
    # The vendor answers segment matches under the feature-match key too.
    EventHistory("/v1/events/segment_match", "featureMatchEvents", (*_COMMON, "segmentId")),
    EventHistory(
        "/v1/events/engagementView",
        "results",
        (*_COMMON, "contentType", "carouselState", "guideState", "surveyState"),
    ),
    EventHistory("/v1/events/formSubmit", "results", _COMMON),
    EventHistory(
        "/v1/events/email",
        "results",
        ("identifyId", "email", "engagementId", "emailTrackType", "executionDate"),
    ),
    EventHistory("/v1/survey/responses", "results", (*_COMMON, "contentType")),
)
_HISTORY_SORT = Fields(kinds={"date": FieldKind.DATE, "accountId": FieldKind.TEXT})


def _label(api_name: str) -> str:
    """``firstName`` -> ``First Name``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", api_name)
    return words[:1].upper() + words[1:]


def _metadata(
    model: str, api_name: str, kind: str, *, custom: bool, created: int, modified: int
) -> dict[str, Any]:
    return {
        "id": f"{model}.{'custom.' if custom else ''}{api_name}",
        "name": _label(api_name),
        "apiName": api_name,
        "internalName": api_name,
        "description": "",
        "type": kind,
        "state": "ENABLED",
        "origin": "CUSTOM" if custom else "DEFAULT",
        "createdDate": created,
        "modifiedDate": modified,
        "defaultValue": "",
    }


def _standard(model: str) -> list[dict[str, Any]]:
    kinds = USER_FIELDS.kinds if model == "user" else account_wire.FIELDS.kinds
    return [
        _metadata(model, name, _TYPE_OF_KIND[kind], custom=False, created=0, modified=0)
        for name, kind in kinds.items()
        if name not in ("id", "aptrinsicId") or model == "account"
    ]


def _custom(model: str, found: list[CustomAttribute]) -> list[dict[str, Any]]:
    return [
        _metadata(
            model,
            a.name,
            _TYPE_OF_VALUE[a.kind],
            custom=True,
            created=a.first_seen,
            modified=a.last_modified,
        )
        for a in found
    ]


class CatalogApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def attributes(self, request: Request, caller: Caller) -> Response:
        model = request.path_params["model"]
        if model not in MODELS:
            raise ModelNotFound(model)
        tenant = caller.tenant
        found = await self.rt.read(
            tenant.tenant_id,
            lambda uow: (
                attribute_catalog.user_custom_attributes(uow)
                if model == "user"
                else attribute_catalog.account_custom_attributes(uow)
            ),
        )
        return json_response([*_standard(model), *_custom(model, found)])

    def content_list(self, spec: ContentList) -> Handler:
        async def answer(request: Request, _caller: Caller) -> Response:
            params = request.query_params
            number = _whole(tr.query_value(params, "pageNumber"), "pageNumber", 0) or 0
            size = _whole(tr.query_value(params, "pageSize"), "pageSize", 1)
            if size is not None and size > spec.max_page_size:
                raise ValidationError("pageSize", f"must be between 1 and {spec.max_page_size}")
            filters = tr.query_values(params, "filter")
            if filters and spec.fields is None:
                raise ValidationError("filter", "this list takes no filter")
            if spec.fields is not None:
                query.parse_filters(filters, spec.fields)
            return json_response({spec.key: [], "pageNumber": number, "isLastPage": True})

        return answer

    def event_history(self, spec: EventHistory) -> Handler:
        fields = Fields(
            kinds={"date": FieldKind.DATE, **dict.fromkeys(spec.filters, FieldKind.TEXT)}
        )

        async def answer(request: Request, _caller: Caller) -> Response:
            state = tr.list_state(request.query_params)
            query.parse_filters(state["q"], fields)
            query.parse_sort(state["o"], _HISTORY_SORT)
            for name in ("dateRangeStart", "dateRangeEnd"):
                raw = tr.query_value(request.query_params, name)
                if raw is not None:
                    query.parse_time(raw, what=name)
            return json_response(
                {spec.key: [], "totalHits": 0, "scrollId": tr.encode_cursor(state)}
            )

        return answer


def _whole(raw: str | None, name: str, least: int) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(name, "must be an integer") from None
    if not least <= value <= 2**31 - 1:
        raise ValidationError(name, f"must be at least {least}")
    return value
