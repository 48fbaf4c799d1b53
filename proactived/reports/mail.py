"""Building the report e-mail (HTML, plain-text alternative, CSV attachment) and sending it over SMTP."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from proactived.config.secrets import redact
from proactived.errors import TransportError
from proactived.reports import events
from proactived.reports.config import SmtpConfig
from proactived.reports.render import one_line


def build_message(
    sender: str,
    recipients: Sequence[str],
    subject: str,
    html: str,
    text: str,
    attachments: Sequence[tuple[str, str]] = (),
    now: float | None = None,
) -> EmailMessage:
    """A multipart message: text and HTML alternatives, then each ``(filename, csv text)`` attached."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = one_line(subject)
    msg["Date"] = formatdate(now, localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for filename, body in attachments:
        msg.add_attachment(body.encode("utf-8"), maintype="text", subtype="csv", filename=filename)
    return msg


def _tls(cfg: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cfg.ca_file)


def _transient(exc: Exception) -> bool:
    """Whether a later attempt can help: 4xx replies and network trouble yes; 5xx and bad certificates no."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        return False
    return isinstance(exc, OSError | smtplib.SMTPException)


class SmtpSender:
    """Delivers messages through the configured server, retrying transient failures with a growing delay."""

    def __init__(self, cfg: SmtpConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.sleep = sleep

    def _once(self, msg: EmailMessage) -> None:
        cfg, timeout = self.cfg, self.cfg.timeout.total_seconds()
        client: smtplib.SMTP
        if cfg.security == "ssl":
            client = smtplib.SMTP_SSL(cfg.host, cfg.effective_port, timeout=timeout, context=_tls(cfg))
        else:
            client = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=timeout)
        with client:
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=_tls(cfg))
                client.ehlo()
            if cfg.user and cfg.password:
                client.login(cfg.user, cfg.password.reveal())
            client.send_message(msg)

    def send(self, msg: EmailMessage, report: str) -> int:
        """Send ``msg``; return the attempts used, or raise TransportError after the last one."""
        delay = self.cfg.retry_delay.total_seconds()
        for attempt in range(1, self.cfg.attempts + 1):
            try:
                self._once(msg)
                return attempt
            except (OSError, smtplib.SMTPException) as exc:
                error = redact(f"{type(exc).__name__}: {exc}")
                last = attempt == self.cfg.attempts or not _transient(exc)
                events.send_attempt_failed(report, attempt, error, None if last else delay)
                if last:
                    raise TransportError(error, permanent=not _transient(exc)) from exc
                self.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")
