"""A local Jira speaking the documented REST subset proactived uses, with Jira's real error shapes.

Cloud (``/rest/api/3``: ADF bodies, basic auth e-mail + API token, ``/search/jql`` with ``nextPageToken`` and
no ``total``; the removed ``/search`` answers 410) and Data Center (``/rest/api/2``: wiki text, bearer PAT,
``/search`` with ``startAt``/``total``). Workflow: To Do → In Progress → Done, Done → To Do by "Reopen Issue".
Faults for outage tests: ``fail_next`` (status, headers) and ``delay`` (seconds before answering).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EMAIL, API_TOKEN, PAT = "bot@example.com", "cloud-token-0123", "dc-pat-456789"
REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
TRANSITIONS = {
    "To Do": [("11", "Start Progress", "In Progress"), ("31", "Done", "Done")],
    "In Progress": [("31", "Done", "Done"), ("41", "Stop Progress", "To Do")],
    "Done": [("51", "Reopen Issue", "To Do")],
}
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


@dataclass
class Issue:
    id: str
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    resolution: str = ""
    comments: list[Any] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)


class Problem(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def errors(status: int, messages: list[str] | None = None, **fields: str) -> Problem:
    return Problem(status, {"errorMessages": messages or [], "errors": fields})


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1


def adf_text(node: Any) -> str:
    """The plain text of an ADF node (for assertions)."""
    if isinstance(node, dict):
        text = node.get("text", "")
        inner = "".join(adf_text(c) for c in node.get("content", []))
        sep = "\n" if node.get("type") in ("paragraph", "heading", "tableRow", "listItem") else ""
        sep = " | " if node.get("type") in ("tableCell", "tableHeader") else sep
        return text + inner + sep
    return ""


class FakeJira:
    """State and fault injection; ``url`` once started."""

    def __init__(self, flavor: str = "cloud", page_size: int = 2) -> None:
        self.flavor = flavor
        self.page_size = page_size
        self.issues: dict[str, Issue] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self._ids = itertools.count(10000)
        self.url = ""

    def fail_next(self, count: int, status: int = 503, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.faults += [(status, headers or {})] * count

    def by_label(self, label: str) -> list[Issue]:
        return [i for i in self.issues.values() if label in i.fields.get("labels", [])]

    def set_status(self, key: str, status: str, resolution: str = "") -> None:
        """What a person does in the UI."""
        self.issues[key].status, self.issues[key].resolution = status, resolution

    # -- request handling ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> Any:
        with self.lock:
            self.requests.append((method, path, body))
            fault = self.faults.pop(0) if self.faults else None
        if self.delay:
            time.sleep(self.delay)
        if fault:
            raise Problem(fault[0], {"errorMessages": ["Service unavailable"], "errors": {}}, fault[1])
        match = re.fullmatch(r"/rest/api/(2|3)(/.*)", path)
        if not match:
            raise Problem(404, {"errorMessages": ["Not found"], "errors": {}})
        version, rest = int(match.group(1)), match.group(2)
        self._authorise(headers)
        q = {k: v[0] for k, v in query.items()}
        with self.lock:
            return self._route(method, version, rest, q, body)

    def _authorise(self, headers: Any) -> None:
        auth = headers.get("Authorization", "")
        cloud = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
        if auth != (cloud if self.flavor == "cloud" else f"Bearer {PAT}"):
            raise Problem(401, "Client must be authenticated to access this resource.")

    def _route(self, method: str, version: int, rest: str, q: dict[str, str], body: Any) -> Any:
        cloud_v3 = self.flavor == "cloud"
        if (method, rest) == ("POST", "/issue"):
            return 201, self._create(version, body)
        if rest == "/search/jql" and cloud_v3:
            return 200, self._search_jql(q)
        if rest == "/search":
            if cloud_v3:
                raise errors(410, [REMOVED])
            return 200, self._search_dc(q)
        m = re.fullmatch(r"/issue/([A-Z]+-\d+)(/comment|/transitions)?", rest)
        if not m or m.group(1) not in self.issues:
            raise errors(404, ["Issue does not exist or you do not have permission to see it."])
        issue = self.issues[m.group(1)]
        if m.group(2) == "/comment" and method == "POST":
            self._check_text(version, body.get("body"), "comment")
            issue.comments.append(body["body"])
            return 201, {"id": str(len(issue.comments)), "body": body["body"]}
        if m.group(2) == "/transitions":
            if method == "GET":
                return 200, {"transitions": [
                    {"id": i, "name": n, "to": {"name": to, "statusCategory": {"key": CATEGORY[to]}}}
                    for i, n, to in TRANSITIONS[issue.status]
                ]}  # fmt: skip
            wanted = body["transition"]["id"]
            found = [to for i, _, to in TRANSITIONS[issue.status] if i == wanted]
            if not found:
                raise errors(400, [f"Transition id '{wanted}' is not valid for this issue."])
            issue.status = found[0]
            chosen = (body.get("fields", {}).get("resolution") or {}).get("name", "Done")
            issue.resolution = chosen if found[0] == "Done" else ""
            return 204, None
        return 200, self._view(issue)

    def _check_text(self, version: int, value: Any, name: str) -> None:
        if version == 3 and not is_adf(value):
            raise errors(400, **{name: NOT_ADF})
        if version == 2 and not isinstance(value, str):
            raise errors(400, **{name: "Operation value must be a string"})

    def _create(self, version: int, body: Any) -> dict[str, Any]:
        fields = body.get("fields", {})
        problems: dict[str, str] = {}
        if fields.get("project", {}).get("key") != "OPS":
            problems["project"] = "valid project is required"
        summary = fields.get("summary") or ""
        if not summary:
            problems["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255 or "\n" in summary:
            problems["summary"] = "Summary must be less than 255 characters."
        for label in fields.get("labels", []):
            if " " in label or len(label) > 255:
                problems["labels"] = f"The label '{label}' contains spaces which is invalid."
        if problems:
            raise errors(400, **problems)
        if "description" in fields:
            self._check_text(version, fields["description"], "description")
            text = adf_text(fields["description"]) if version == 3 else fields["description"]
            if len(text) > 32767:
                too_long = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
                raise errors(400, description=too_long)
        issue_id = str(next(self._ids))
        key = f"OPS-{len(self.issues) + 1}"
        self.issues[key] = Issue(issue_id, key, fields)
        return {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/{version}/issue/{issue_id}"}

    def _matching(self, jql: str) -> list[Issue]:
        m = re.match(r'labels = "([^"]+)"', jql)
        if not m:
            raise errors(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction."])
        return sorted(self.by_label(m.group(1)), key=lambda i: int(i.id))

    def _search_jql(self, q: dict[str, str]) -> dict[str, Any]:
        found = self._matching(q.get("jql", ""))
        size = min(int(q.get("maxResults", 50)), self.page_size)
        start = int(q.get("nextPageToken", "0") or 0)
        page = found[start : start + size]
        last = start + size >= len(found)
        result: dict[str, Any] = {"issues": [self._view(i) for i in page], "isLast": last}
        if not last:
            result["nextPageToken"] = str(start + size)
        return result

    def _search_dc(self, q: dict[str, str]) -> dict[str, Any]:
        found = self._matching(q.get("jql", ""))
        start, size = int(q.get("startAt", 0)), min(int(q.get("maxResults", 50)), self.page_size)
        return {"startAt": start, "maxResults": size, "total": len(found),
                "issues": [self._view(i) for i in found[start : start + size]]}  # fmt: skip

    def _view(self, issue: Issue) -> dict[str, Any]:
        status = {"name": issue.status, "statusCategory": {"key": CATEGORY[issue.status]}}
        resolution = {"name": issue.resolution} if issue.resolution else None
        fields = {**issue.fields, "status": status, "resolution": resolution}
        return {"id": issue.id, "key": issue.key, "fields": fields}


def _handler(fake: FakeJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
                status, answer = fake.handle(method, parts.path, parse_qs(parts.query), self.headers, body)
                extra: dict[str, str] = {}
            except Problem as problem:
                status, answer, extra = problem.status, problem.body, problem.headers
            except BrokenPipeError:
                return
            data = b"" if answer is None else (answer if isinstance(answer, str) else json.dumps(answer)).encode()
            try:
                self.send_response(status)
                ctype = "text/plain" if isinstance(answer, str) else "application/json;charset=UTF-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler


@contextmanager
def running_jira(flavor: str = "cloud", page_size: int = 2) -> Iterator[FakeJira]:
    fake = FakeJira(flavor, page_size)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
