"""Progress notes from inside running tasks, for whoever shows them (the CLI's progress bar).

``dag.test()`` runs tasks in the calling process, but Airflow routes task logging to its
own handlers; this tiny publish/subscribe channel lets the CLI show what a task is doing
without scraping logs. Nobody subscribed (a real Airflow worker): reports cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable

_listeners: list[Callable[[str], None]] = []


def subscribe(listener: Callable[[str], None]) -> Callable[[], None]:
    """Register ``listener``; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def report(message: str) -> None:
    for listener in list(_listeners):
        listener(message)
