"""Open every dashboard in a real headless Chromium, as a person would, and screenshot it.

Playwright (PyPI) drives Debian's ``chromium`` (``/usr/bin/chromium``, or
``CLIENTBASE_CHROMIUM``): Playwright's own browser download is not available on these
machines. The browser logs in through Superset's login form, opens each clientbase
dashboard, waits until no chart is loading, and reports per chart whether it rendered data
(table rows, or a canvas for the ECharts charts), showed Superset's "no data" state, or an
error. A full-page screenshot of each dashboard is saved as ``<folder>/<slug>.png``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from clientbase.bi.definitions import DASHBOARDS

log = logging.getLogger(__name__)

# Flags for a machine without a screen and without a network beyond loopback (python.md):
# without the background-networking ones Chromium keeps trying Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1400}
LOAD_TIMEOUT_S = 120

# Per chart holder: its title, whether it is still loading, its error text, whether it shows
# the empty state, and what it drew.
CHART_STATE_JS = """
() => Array.from(document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')).map(holder => {
  const body = holder.querySelector('[data-test="chart-container"]') || holder;
  const error = holder.querySelector('[role="alert"], .ant-alert-error, [data-test="error-message"]');
  return {
    title: (holder.querySelector('[data-test="editable-title"]') || {}).innerText || '',
    loading: !!holder.querySelector('[data-test="loading-indicator"]'),
    error: error ? error.innerText.trim().slice(0, 300) || 'error' : null,
    empty: !!body.querySelector('.ant-empty, [data-test="empty-state"]'),
    rows: body.querySelectorAll('table tbody tr').length,
    canvases: body.querySelectorAll('canvas').length,
  };
})
"""


class BrowserError(RuntimeError):
    """Chromium or Playwright is missing or failed; the message says what to install."""


@dataclass
class ChartState:
    title: str
    loading: bool
    error: str | None
    empty: bool
    rows: int
    canvases: int

    @property
    def has_data(self) -> bool:
        return not self.loading and not self.error and not self.empty and (self.rows > 0 or self.canvases > 0)


@dataclass
class DashboardShot:
    slug: str
    path: Path
    charts_state: list[ChartState] = field(default_factory=list)
    expected_charts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def charts(self) -> int:
        return len(self.charts_state)

    @property
    def charts_with_data(self) -> int:
        return sum(1 for c in self.charts_state if c.has_data)

    @property
    def ok(self) -> bool:
        return not self.problems


def chromium_path() -> str:
    path = os.environ.get("CLIENTBASE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise BrowserError("no Chromium at /usr/bin/chromium: install Debian's package (apt-get install -y chromium) "
                           "or set CLIENTBASE_CHROMIUM to a Chromium binary")
    return path


def _sync_playwright():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        raise BrowserError("Playwright is not installed in this environment: make install (the dev extra "
                           "brings it) or pip install playwright") from exc
    return sync_playwright, Error


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/", wait_until="networkidle")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('[data-test="login-button"]')
    page.wait_for_load_state("networkidle")
    if "/login" in page.url:
        raise BrowserError(f"Superset did not accept the login of {username!r} in the browser")


def open_dashboard(page, base_url: str, slug: str, timeout_s: float = LOAD_TIMEOUT_S) -> list[ChartState]:
    """Open a dashboard and wait until every chart has finished (data, empty state or error)."""
    page.goto(f"{base_url}/superset/dashboard/{slug}/", wait_until="domcontentloaded")
    page.wait_for_selector('[data-test="dashboard-component-chart-holder"]', timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    states: list[ChartState] = []
    while time.monotonic() < deadline:
        states = [ChartState(**s) for s in page.evaluate(CHART_STATE_JS)]
        if states and all(not s.loading and (s.error or s.empty or s.rows or s.canvases) for s in states):
            break
        page.wait_for_timeout(500)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # let the ECharts animations finish before the screenshot
    return [ChartState(**s) for s in page.evaluate(CHART_STATE_JS)]


def check_dashboards(base_url: str, username: str, password: str, out_dir: Path,
                     slugs: list[str] | None = None, expect_data: bool = True) -> list[DashboardShot]:
    """Every clientbase dashboard (or ``slugs``) opened as ``username``; screenshots into ``out_dir``.

    ``expect_data``: a chart without data is a problem (a director's view of a published month);
    a manager's login may legitimately see empty company-wide charts, so pass False there.
    """
    sync_playwright, playwright_error = _sync_playwright()
    executable = chromium_path()
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {d.slug: len(d.chart_keys) for d in DASHBOARDS.values()}
    shots = []
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        except playwright_error as exc:
            raise BrowserError(f"Chromium at {executable} did not start under Playwright: {exc}") from exc
        try:
            page = browser.new_page(viewport=VIEWPORT)
            login(page, base_url, username, password)
            for slug in slugs or list(expected):
                states = open_dashboard(page, base_url, slug)
                path = out_dir / f"{slug}.png"
                page.screenshot(path=str(path), full_page=True)
                shot = DashboardShot(slug, path, states, expected.get(slug, len(states)))
                if len(states) != shot.expected_charts:
                    shot.problems.append(f"{len(states)} charts on the page, {shot.expected_charts} defined")
                for state in states:
                    if state.error:
                        shot.problems.append(f"{state.title}: {state.error}")
                    elif state.loading:
                        shot.problems.append(f"{state.title}: still loading after {LOAD_TIMEOUT_S} s")
                    elif expect_data and not state.has_data:
                        shot.problems.append(f"{state.title}: no data")
                log.info("%s: %d/%d charts with data -> %s", slug, shot.charts_with_data, shot.charts, path)
                shots.append(shot)
        finally:
            browser.close()
    return shots
