"""The control routes, on the admin listener only (never the viewers' port: a viewer must
not open ad breaks): `POST /cue` asks the running daemon for a break at the next segment
boundary, as `hlsd cue` does through the control socket, by the same door
(CueDesk.take, which checks the request and waits for the boundary).

Its parameters, `duration` (seconds, > 0) and an optional `id`, come as a JSON object
(`Content-Type: application/json`), as form fields, or in the query string (the body's
win). Answers, all JSON and no-store: 200 {"id", "start_date", "seq"} once the break
opened; 400 a bad or missing duration or id; 409 the id in use; 503 no segment came in
time (the break withdrawn); 405 any method but POST."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hlsd.publish.cues import CueDesk, CueRefused
from hlsd.serve.errors import NO_STORE

__all__ = ["CUE_ROUTE", "add_control_routes"]

CUE_ROUTE = "/cue"
STATUS = {"bad": 400, "in_use": 409, "late": 503}
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def add_control_routes(router: web.UrlDispatcher, cues: CueDesk) -> None:
    async def cue(request: web.Request) -> web.Response:
        try:
            fields = await _fields(request)
            answer = await cues.take(fields.get("duration"), fields.get("id"))
        except CueRefused as exc:
            return web.json_response({"error": str(exc)}, status=STATUS[exc.why],
                                     headers=NO_STORE)
        return web.json_response(answer, headers=NO_STORE)

    router.add_post(CUE_ROUTE, cue)


async def _fields(request: web.Request) -> dict[str, Any]:
    fields: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return fields
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except ValueError as exc:  # JSONDecodeError, or bytes that are no text
            raise CueRefused("bad", f"the body is no JSON: {exc}") from None
        if not isinstance(body, dict):
            raise CueRefused("bad", "the body is no JSON object")
        fields.update(body)
    elif request.content_type in FORMS:
        fields.update(await request.post())
    else:
        raise CueRefused("bad", "send the parameters as JSON, a form or in the query string")
    return fields
