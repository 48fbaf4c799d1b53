"""A small WSGI application: exact-path routing, size-limited bodies, JSON errors, bearer-token auth."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from proactived import telemetry
from proactived.errors import InputError, StoreError

StartResponse = Callable[..., Any]
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit."""


@dataclass
class Request:
    """What a handler sees of one HTTP request."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, list[str]]
    environ: Mapping[str, Any]
    max_body: int
    _body: bytes | None = None

    def body(self) -> bytes:
        """The request body, read once; BodyTooLarge past the limit."""
        if self._body is None:
            length_text = self.environ.get("CONTENT_LENGTH") or "0"
            length = int(length_text) if length_text.isdigit() else 0
            if length > self.max_body:
                raise BodyTooLarge()
            stream = self.environ["wsgi.input"]
            data = stream.read(length) if length else stream.read(self.max_body + 1)
            if len(data) > self.max_body:
                raise BodyTooLarge()
            self._body = data
        return self._body

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """Status, headers and body bytes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, default=str).encode(), {"Content-Type": "application/json"})


def error(status: int, message: str, field_name: str = "") -> Response:
    body: dict[str, Any] = {"status": "error", "error": message}
    if field_name:
        body["field"] = field_name
    return json_response(status, body)


Handler = Callable[[Request], Response]
TokenCheck = Callable[[Request], bool]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: bool


class Router:
    """Maps (method, path) to handlers; ``auth=True`` routes need the bearer token when one is set."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}

    def add(self, method: str, path: str, handler: Handler, *, auth: bool = False) -> None:
        self.routes[(method, path)] = Route(method, path, handler, auth)

    def find(self, method: str, path: str) -> Route | Response:
        route = self.routes.get((method, path))
        if route is not None:
            return route
        if any(p == path for _, p in self.routes):
            return error(405, f"method {method} not allowed on {path}")
        return error(404, f"no such endpoint: {path}")


def bearer_matches(request: Request, token: str) -> bool:
    """Constant-time comparison of the request's bearer token with ``token``."""
    given = request.header("authorization")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


class WsgiApp:
    """The WSGI callable; catches everything at the boundary so one bad request never hurts another."""

    def __init__(
        self,
        router: Router,
        max_body: Callable[[], int],
        auth: Callable[[Request], bool],
        protect_reads: Callable[[], bool] = lambda: False,
    ) -> None:
        self.router = router
        self.max_body = max_body
        self.auth = auth
        self.protect_reads = protect_reads  # GET routes without auth=True need the token too when true

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("PATH_INFO", "/") or "/",
            headers={k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            | {"content-type": environ.get("CONTENT_TYPE", "")},
            query=parse_qs(environ.get("QUERY_STRING", "")),
            environ=environ,
            max_body=self.max_body(),
        )
        found = self.router.find(request.method, request.path)
        route_name = found.path if isinstance(found, Route) else "unmatched"
        response = found if isinstance(found, Response) else self._dispatch(found, request)
        telemetry.http_request(route_name, response.status)
        headers = {"Content-Length": str(len(response.body)), **response.headers}
        start_response(f"{response.status} {_REASONS.get(response.status, 'Status')}", list(headers.items()))
        return [response.body]

    def _dispatch(self, route: Route, request: Request) -> Response:
        needs_auth = route.auth or (route.method == "GET" and self.protect_reads())
        if needs_auth and not self.auth(request):
            response = error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="proactived"'
            return response
        try:
            return route.handler(request)
        except BodyTooLarge:
            return error(413, f"request body larger than {request.max_body} bytes")
        except InputError as exc:
            return error(400, exc.message, exc.field)
        except StoreError as exc:
            telemetry.store_error(route.path, exc)
            return error(503, "cannot persist right now; nothing was accepted, retry later")
        except Exception as exc:  # the request boundary: log with context, answer 500, keep serving
            telemetry.loop_error("http " + route.path, exc)
            return error(500, "internal error")
