"""Polls Zabbix (6.0 and 7.0 LTS) through pyzabbix: open and recently resolved problems, with hosts and tags.

Identity: one incident per Zabbix *problem*. The fingerprint is ``<source>:<triggerid>:<eventid>``: the
eventid names one problem occurrence (Zabbix opens a new problem, with a new eventid, after a recovery,
so a relapse is a new incident), the triggerid keeps it readable. Triggers with the same name on different
hosts never merge. Hosts and dependencies come from ``trigger.get`` (``problem.get`` has no host select).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from proactived.config.secrets import Secret
from proactived.errors import InputError, TransportError
from proactived.http_client import USER_AGENT, HttpClient
from proactived.model import Alert, Severity, Status, normalise_severity, source_fingerprint
from proactived.sources.base import Collected, PollConfig

KIND = "zabbix"
SEVERITY_WORDS = ("not classified", "information", "warning", "average", "high", "disaster")
RESERVED_LABELS = frozenset({"alertname", "host", "host_name", "severity", "zabbix_triggerid", "zabbix_eventid"})
MAX_PAGES = 100
_RELOGIN_HINTS = ("re-login", "not authorised", "not authorized", "session terminated")


class ZabbixConfig(PollConfig):
    """``type: zabbix``; ``url`` is the frontend URL (``/api_jsonrpc.php`` is appended)."""

    type: Literal["zabbix"]
    """`zabbix`."""
    api_token: Secret | None = None
    """Zabbix API token (secret; `api_token_file` works too); preferred over username/password."""
    username: str | None = None
    """Zabbix user for user.login (6.0 sends `username`, older versions `user`)."""
    password: Secret | None = None
    """Password for user.login (secret; `password_file` works too)."""
    include_suppressed: bool = True
    """Keep problems suppressed by a Zabbix maintenance, marked as in maintenance (they open no tickets)."""
    page_size: int = Field(default=1000, ge=1, le=10000)
    """problem.get page size (paged by eventid)."""

    @model_validator(mode="after")
    def _credentials(self) -> ZabbixConfig:
        if self.api_token is None and (self.username is None or self.password is None):
            raise ValueError("give api_token, or username and password")
        if self.api_token is not None and (self.username or self.password):
            raise ValueError("give either api_token or username/password, not both")
        return self

    @property
    def frontend(self) -> str:
        return self.url.removesuffix("/api_jsonrpc.php")


def severity_word(code: str) -> str:
    """Zabbix's 0-5 scale (sent as a string) → its own word."""
    return SEVERITY_WORDS[int(code)] if code.isdigit() and int(code) < len(SEVERITY_WORDS) else code


def tag_labels(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Tags as labels: a repeated key joins its sorted values with ","; a clash with our labels gets ``tag_``."""
    values: dict[str, set[str]] = {}
    for tag in tags:
        key = tag["tag"]
        values.setdefault(f"tag_{key}" if key in RESERVED_LABELS else key, set()).add(tag.get("value", ""))
    return {key: ",".join(sorted(v)) for key, v in values.items()}


def normalise(
    problems: Any,
    triggers: Mapping[str, Mapping[str, Any]],
    source: str,
    now: datetime,
    *,
    include_suppressed: bool = True,
    severity_table: Mapping[str, Severity] | None = None,
    frontend: str = "",
) -> Collected:
    """``problem.get`` rows (plus ``trigger.get`` rows by triggerid) → alerts; resolved ones from ``r_eventid``."""
    if not isinstance(problems, list):
        raise InputError("problems", "expected a list")
    alerts: list[Alert] = []
    keep: set[str] = set()
    for i, problem in enumerate(problems):
        try:
            alert = _alert(problem, triggers, source, now, severity_table, frontend)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as exc:  # OSError: clock
            raise InputError(f"problems[{i}]", f"unexpected problem shape: {exc!r}") from None
        if alert.suppressed and alert.status is Status.FIRING and not include_suppressed:
            keep.add(alert.fingerprint)
        else:
            alerts.append(alert)
    return Collected(alerts, frozenset(keep))


def _alert(
    problem: Mapping[str, Any],
    triggers: Mapping[str, Mapping[str, Any]],
    source: str,
    now: datetime,
    severity_table: Mapping[str, Severity] | None,
    frontend: str,
) -> Alert:
    eventid, triggerid = str(problem["eventid"]), str(problem["objectid"])
    trigger = triggers.get(triggerid, {})
    hosts = sorted(trigger.get("hosts", []), key=lambda h: str(h["host"]))
    word = severity_word(str(problem["severity"]))
    labels = {
        **tag_labels(problem.get("tags", [])),
        "alertname": str(problem["name"]),
        "severity": word,
        "zabbix_triggerid": triggerid,
        "zabbix_eventid": eventid,
    }
    if hosts:
        labels["host"] = ",".join(str(h["host"]) for h in hosts)
        labels["host_name"] = ",".join(str(h.get("name") or h["host"]) for h in hosts)
    depends = sorted(str(d["triggerid"]) for d in trigger.get("dependencies", []))
    if depends:
        labels["zabbix_depends_on"] = ",".join(depends)
    annotations = {"summary": str(problem["name"])}
    if problem.get("opdata"):
        annotations["opdata"] = str(problem["opdata"])
    resolved = str(problem.get("r_eventid", "0")) != "0"
    return Alert(
        source=source,
        source_kind=KIND,
        fingerprint=source_fingerprint(source, f"{triggerid}:{eventid}"),
        labels=labels,
        annotations=annotations,
        severity=normalise_severity(word, severity_table),
        source_severity=word,
        status=Status.RESOLVED if resolved else Status.FIRING,
        starts_at=_clock(problem.get("clock")) or now,
        ends_at=_clock(problem.get("r_clock")) if resolved else None,
        generator_url=f"{frontend}/tr_events.php?triggerid={triggerid}&eventid={eventid}" if frontend else "",
        suppressed=suppression(problem),
        raw=dict(problem),
    )


def suppression(problem: Mapping[str, Any]) -> str:
    """``suppressed: "1"`` → why: a maintenance (its ids) or a manual suppression."""
    if str(problem.get("suppressed", "0")) != "1":
        return ""
    data = problem.get("suppression_data") or []
    maintenances = sorted({str(d.get("maintenanceid")) for d in data if str(d.get("maintenanceid", "0")) != "0"})
    if maintenances:
        return f"zabbix maintenance {','.join(maintenances)}"
    return "zabbix manual suppression"


def _clock(value: Any) -> datetime | None:
    seconds = int(value or 0)
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


class ZabbixSource:
    """A pyzabbix client on the shared HTTP session; logs in lazily and again when the session expired."""

    def __init__(self, config: ZabbixConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self.now = now
        # pyzabbix (and requests, which it uses) load only for a configured Zabbix source.
        from pyzabbix.api import ZabbixAPI

        self.http = HttpClient(timeout=config.timeout.total_seconds(), verify=config.tls_verify)
        self.api = ZabbixAPI(config.frontend, session=self.http.session, timeout=config.timeout.total_seconds())
        self.http.session.headers["User-Agent"] = USER_AGENT
        self._logged_in = False

    def collect(self, severity_table: Mapping[str, Severity]) -> Collected:
        problems = self._problems()
        triggerids = sorted({str(p.get("objectid")) for p in problems if isinstance(p, dict)})
        triggers: dict[str, Any] = {}
        if triggerids:
            found = self._call(
                "trigger.get",
                triggerids=triggerids,
                output=["triggerid", "description"],
                selectHosts=["hostid", "host", "name"],
                selectDependencies=["triggerid"],
                preservekeys=True,
            )
            triggers = found if isinstance(found, dict) else {}
        return normalise(
            problems,
            triggers,
            self.config.name,
            self.now(),
            include_suppressed=self.config.include_suppressed,
            severity_table=severity_table,
            frontend=self.config.frontend,
        )

    def _problems(self) -> list[Any]:
        """Open and recently resolved trigger problems, paged by eventid (problem.get has no offset)."""
        problems: list[Any] = []
        params: dict[str, Any] = {
            "output": "extend",
            "selectTags": "extend",
            "selectSuppressionData": "extend",
            "source": 0,
            "object": 0,
            "recent": True,
            "sortfield": ["eventid"],
            "sortorder": "ASC",
            "limit": self.config.page_size,
        }
        for _ in range(MAX_PAGES):
            page = self._call("problem.get", **params)
            if not isinstance(page, list):
                raise InputError("problem.get", "expected a list")
            problems.extend(page)
            if len(page) < self.config.page_size:
                return problems
            params["eventid_from"] = str(int(page[-1]["eventid"]) + 1)
        raise InputError("problem.get", f"more than {MAX_PAGES} pages of problems")

    def _call(self, method: str, **params: Any) -> Any:
        import requests
        from pyzabbix.api import ZabbixAPIException

        try:
            if not self._logged_in:
                self._login()
            try:
                return self.api[method.split(".")[0]][method.split(".")[1]](**params)
            except ZabbixAPIException as exc:
                if self.config.api_token is not None or not any(h in str(exc).lower() for h in _RELOGIN_HINTS):
                    raise
                self._login()
                return self.api[method.split(".")[0]][method.split(".")[1]](**params)
        except requests.Timeout:
            raise TransportError(f"zabbix {method}: timed out after {self.config.timeout}") from None
        except requests.RequestException as exc:
            raise TransportError(f"zabbix {method}: {type(exc).__name__}: {exc}") from None
        except ZabbixAPIException as exc:
            self._logged_in = self._logged_in and not any(h in str(exc).lower() for h in _RELOGIN_HINTS)
            raise TransportError(f"zabbix {method}: {exc}", permanent=True) from None

    def _login(self) -> None:
        """Detects the version (pyzabbix then picks ``username`` vs ``user`` and header vs body auth)."""
        self._logged_in = False
        if self.config.api_token is not None:
            self.api.login(api_token=self.config.api_token.reveal())
        else:
            assert self.config.username is not None and self.config.password is not None
            self.api.login(self.config.username, self.config.password.reveal())
        self._logged_in = True

    def close(self) -> None:
        self.http.close()
