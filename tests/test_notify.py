"""Failure notifications, received by real local servers: an HTTP endpoint and an SMTP sink."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import psycopg
import pytest

from clientbase import notify
from clientbase.settings import load_settings
from clientbase.tasks import GateBlocked


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


class _SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: greet, accept one envelope and its DATA."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ready")
        sender, recipients, lines, in_data = None, [], [], False
        for raw in self.rfile:
            if in_data:
                if raw.rstrip(b"\r\n") == b".":
                    self.server.received.append((sender, recipients, email.message_from_bytes(b"".join(lines))))
                    in_data, lines = False, []
                    self.reply("250 queued")
                else:
                    lines.append(raw[1:] if raw.startswith(b"..") else raw)
                continue
            verb = raw[:4].decode().upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                sender = raw.decode().split(":", 1)[1].strip().strip("<>")
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                in_data = True
                self.reply("354 end with <CRLF>.<CRLF>")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.received, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_sink():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def configure(monkeypatch, webhook=None, smtp=None) -> None:
    for name in ("WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "MAIL_TO", "MAIL_FROM", "SMTP_USER", "SMTP_STARTTLS"):
        monkeypatch.delenv(f"CLIENTBASE_NOTIFY_{name}", raising=False)
    if webhook is not None:
        monkeypatch.setenv("CLIENTBASE_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{webhook.server_address[1]}/hook")
    if smtp is not None:
        monkeypatch.setenv("CLIENTBASE_NOTIFY_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CLIENTBASE_NOTIFY_SMTP_PORT", str(smtp.server_address[1]))
        monkeypatch.setenv("CLIENTBASE_NOTIFY_MAIL_TO", "ops@example.com, bi@example.com")
        monkeypatch.setenv("CLIENTBASE_NOTIFY_MAIL_FROM", "clientbase@example.com")


GATE_MESSAGE = ("quality gate BLOCKED publication of 2024-12: 1 blocking check(s) failed; reporting is unchanged.\n"
                "Failed checks:\n  - [gx] shipments: expect_column_values_to_be_in_set(status) — 1 failing rows")


def gate_context() -> dict:
    """What Airflow passes to on_failure_callback, reduced to what the report reads."""
    ti = SimpleNamespace(dag_id="monthly_kpi", run_id="manual__2025-01-03", task_id="quality_gate",
                         map_index=-1, try_number=1, log_url="http://airflow:8080/dags/monthly_kpi/runs/x/tasks/q")
    return {"ti": ti, "exception": GateBlocked(GATE_MESSAGE)}


def test_off_by_default(monkeypatch, webhook, smtp_sink):
    configure(monkeypatch)
    assert not load_settings().notifications.enabled
    notify.on_failure(gate_context())
    assert webhook.received == [] and smtp_sink.received == []


def test_gate_failure_by_webhook_and_mail(monkeypatch, webhook, smtp_sink):
    configure(monkeypatch, webhook, smtp_sink)
    notify.on_failure(gate_context())

    [(content_type, payload)] = webhook.received
    assert content_type.startswith("application/json")
    assert (payload["dag_id"], payload["run_id"], payload["task_id"]) == ("monthly_kpi", "manual__2025-01-03",
                                                                          "quality_gate")
    assert payload["error_type"] == "GateBlocked" and payload["error"] == GATE_MESSAGE
    assert payload["text"].startswith("[clientbase] monthly_kpi failed at quality_gate: quality gate BLOCKED")
    looks = "\n".join(payload["where_to_look"])
    assert "http://airflow:8080/dags/monthly_kpi" in looks
    assert "audit.check_results where run_id = 'manual__2025-01-03'" in looks

    [(sender, recipients, mail)] = smtp_sink.received
    assert sender == "clientbase@example.com" and recipients == ["ops@example.com", "bi@example.com"]
    assert isinstance(mail, Message) and mail["Subject"].startswith("[clientbase] monthly_kpi failed at quality_gate")
    body = mail.get_payload(decode=True).decode()
    assert "Run:   manual__2025-01-03" in body and "expect_column_values_to_be_in_set(status)" in body


def test_an_unreachable_channel_does_not_hide_the_other(monkeypatch, webhook, smtp_sink, caplog):
    configure(monkeypatch, webhook, smtp_sink)
    webhook.status = 500
    sent = notify.notify(notify.failure_from_context(gate_context()), load_settings().notifications)
    assert sent == ["smtp"]
    assert "failure notification to the webhook failed" in caplog.text and "500" in caplog.text

    port = webhook.server_address[1]
    webhook.shutdown()
    webhook.server_close()
    monkeypatch.setenv("CLIENTBASE_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{port}/gone")
    assert notify.notify(notify.failure_from_context(gate_context()), load_settings().notifications) == ["smtp"]


def test_a_failing_dag_task_notifies(airflow_ready, monkeypatch, webhook, smtp_sink):
    """The callback is wired in the real DAG: a month close with a bad month fails and reports it."""
    from clientbase.orchestration.airflow_runner import run_dag
    from conftest import reset_warehouse

    reset_warehouse(airflow_ready)
    configure(monkeypatch, webhook, smtp_sink)
    outcome = run_dag("monthly_kpi", {"from_month": "2024/13", "to_month": "2024-12"})
    assert not outcome.ok
    [(_, payload)] = webhook.received
    assert (payload["dag_id"], payload["run_id"], payload["task_id"]) == ("monthly_kpi", outcome.run_id,
                                                                          "months_to_close")
    assert payload["error_type"] == "ValueError" and "'2024/13' is not a month" in payload["error"]
    assert any("/dags/monthly_kpi/runs/" in place for place in payload["where_to_look"])
    assert len(smtp_sink.received) == 1
    with psycopg.connect(airflow_ready) as conn:  # the teardown released the lock despite the failure
        assert conn.execute("select count(*) from audit.month_close_leases where released_at is null"
                            ).fetchone()[0] == 0


def test_every_task_of_every_dag_reports_failures(airflow_ready):
    from airflow.dag_processing.dagbag import DagBag

    from conftest import REPO

    dags = DagBag(dag_folder=str(REPO / "dags")).dags
    assert sorted(dags) == ["extract_shipments", "extract_visits", "monthly_kpi"]
    for dag in dags.values():
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert notify.on_failure in callbacks, f"{dag.dag_id}.{task.task_id}"
