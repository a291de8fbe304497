"""Tell a person when a pipeline task fails: a JSON webhook and/or an e-mail.

A blocked month close is silent in a scheduler unless someone watches the UI, and the
managers' reports then quietly go stale. ``on_failure`` is the ``on_failure_callback`` of
every clientbase task (set in the DAGs' default_args); it is off unless configured
(``CLIENTBASE_NOTIFY_*`` in settings.py). The message names the DAG, run, task and the
error (for a blocked gate, its full message) and says where to look.

Sending must never hide the failure it reports: a webhook or SMTP server that is down is
logged and the task's own failure stands.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from clientbase.settings import Notifications, load_settings

log = logging.getLogger(__name__)

ERROR_CHARS = 4000  # a webhook or mail carries the error, not a whole traceback


@dataclass(frozen=True)
class Failure:
    """One failed task, as people need it: what failed, why, where to look."""

    dag_id: str
    run_id: str
    task_id: str
    error: str
    error_type: str
    map_index: int | None = None
    try_number: int | None = None
    log_url: str | None = None
    where_to_look: list[str] = field(default_factory=list)

    @property
    def task_label(self) -> str:
        return self.task_id if self.map_index is None or self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    def subject(self) -> str:
        first_line = self.error.strip().splitlines()[0] if self.error.strip() else self.error_type
        return f"[clientbase] {self.dag_id} failed at {self.task_label}: {first_line}"[:200]

    def text(self) -> str:
        lines = [
            f"DAG:   {self.dag_id}",
            f"Run:   {self.run_id}",
            f"Task:  {self.task_label}" + (f" (try {self.try_number})" if self.try_number else ""),
            f"Error: {self.error_type}",
            "",
            self.error.strip(),
            "",
            "Where to look:",
            *(f"  - {place}" for place in self.where_to_look),
        ]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        # "text" first: Slack / Mattermost / Teams-style incoming webhooks show it as is
        return {"text": self.subject() + "\n\n" + self.text(), **asdict(self)}


def where_to_look(dag_id: str, run_id: str, error_type: str, log_url: str | None) -> list[str]:
    """The places that explain this failure, most specific first."""
    from clientbase.tasks import run_dir

    places = []
    if log_url:
        places.append(f"task log: {log_url}")
    if error_type == "GateBlocked":
        places.append(f"every check of the run: select * from audit.check_results where run_id = '{run_id}'")
        places.append(f"the gate's decision: select * from audit.gate_decisions where run_id = '{run_id}'")
    elif error_type in ("MonthCloseBusy", "LeaseLost"):
        places.append("who holds the month close: select * from audit.month_close_leases order by lease_id desc")
    places.append(f"run artefacts (dbt logs, GX results): {run_dir(run_id)}")
    places.append("loads, quarantine and publications: `clientbase status`")
    return places


def failure_from_context(context: Mapping[str, Any]) -> Failure:
    """Build the report from an Airflow task context (``on_failure_callback``'s argument)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id") or "?"
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", "?")
    exc = context.get("exception")
    error_type = type(exc).__name__ if isinstance(exc, BaseException) else "error"
    error = str(exc) if exc is not None else "the task failed (no exception was passed: see the task log)"
    log_url = getattr(ti, "log_url", None)
    return Failure(
        dag_id=dag_id, run_id=run_id, task_id=task_id, error=error[:ERROR_CHARS], error_type=error_type,
        map_index=getattr(ti, "map_index", None), try_number=getattr(ti, "try_number", None),
        log_url=log_url, where_to_look=where_to_look(dag_id, run_id, error_type, log_url),
    )


def send_webhook(url: str, failure: Failure, timeout_s: float) -> None:
    """POST the failure as JSON; raises OSError (URLError, HTTPError) if it was not accepted."""
    request = urllib.request.Request(
        url, data=json.dumps(failure.payload(), ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "clientbase-notify"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read()


def send_mail(config: Notifications, failure: Failure) -> None:
    """Send the failure by SMTP; raises OSError (smtplib.SMTPException is one) on failure."""
    message = EmailMessage()
    message["Subject"] = failure.subject()
    message["From"] = config.mail_from
    message["To"] = ", ".join(config.mail_to)
    message.set_content(failure.text())
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_s) as smtp:
        if config.smtp_starttls:
            smtp.starttls()
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password or "")
        smtp.send_message(message)


def notify(failure: Failure, config: Notifications) -> list[str]:
    """Send ``failure`` on every configured channel; returns the channels that got it."""
    sent = []
    if config.webhook_url:
        try:
            send_webhook(config.webhook_url, failure, config.timeout_s)
            sent.append("webhook")
        except OSError as exc:
            log.error("failure notification to the webhook failed (%s): %s", config.webhook_url, exc)
    if config.smtp_host and config.mail_to:
        try:
            send_mail(config, failure)
            sent.append("smtp")
        except OSError as exc:
            log.error("failure notification by mail via %s:%s failed: %s", config.smtp_host, config.smtp_port, exc)
    return sent


def on_failure(context: Mapping[str, Any]) -> None:
    """Airflow ``on_failure_callback``: report the failed task if notifications are configured."""
    config = load_settings().notifications
    if not config.enabled:
        return
    failure = failure_from_context(context)
    sent = notify(failure, config)
    if sent:
        log.info("failure of %s.%s reported by %s", failure.dag_id, failure.task_label, " and ".join(sent))
