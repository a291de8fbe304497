"""A small Superset REST client: log in as a user, list the dashboards' charts, read chart data.

It reads what a chart *shows*: ``GET /api/v1/chart/<id>/data/`` runs the chart's saved query
context as the logged-in user, row-level security included, which is how the tests prove a
manager's login gets only their rows and how they compare the charts' figures with
``reporting``.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

log = logging.getLogger(__name__)
TIMEOUT_S = 120


class SupersetApiError(RuntimeError):
    """Superset answered an API call with an error; the message names the call and the answer."""


class SupersetClient:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        response = self.session.post(f"{self.base_url}/api/v1/security/login", timeout=TIMEOUT_S,
                                     json={"username": username, "password": password, "provider": "db",
                                           "refresh": False})
        if response.status_code != 200:
            raise SupersetApiError(f"login of {username!r} at {self.base_url} refused ({response.status_code}): "
                                   "check the user and its password")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}{path}", params=params, timeout=TIMEOUT_S)
        if response.status_code != 200:
            raise SupersetApiError(f"GET {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def dashboards(self) -> list[dict[str, Any]]:
        """The dashboards this user may see: id, slug, title."""
        rows = self.get("/api/v1/dashboard/", q="(columns:!(id,slug,dashboard_title,uuid),page_size:100)")
        return rows["result"]

    def dashboard_charts(self, id_or_slug: int | str) -> list[dict[str, Any]]:
        return self.get(f"/api/v1/dashboard/{id_or_slug}/charts")["result"]

    def charts(self) -> list[dict[str, Any]]:
        rows = self.get("/api/v1/chart/", q="(columns:!(id,uuid,slice_name,viz_type),page_size:100)")
        return rows["result"]

    def chart_data(self, chart_id: int) -> list[dict[str, Any]]:
        """The rows of the chart's saved query context (all of them: no dashboard filter applies)."""
        payload = self.get(f"/api/v1/chart/{chart_id}/data/", format="json")
        results = payload.get("result") or []
        if not results:
            raise SupersetApiError(f"chart {chart_id}: no result in {str(payload)[:300]}")
        for result in results:
            if result.get("error"):
                raise SupersetApiError(f"chart {chart_id}: {result['error']}")
        return results[0]["data"]
