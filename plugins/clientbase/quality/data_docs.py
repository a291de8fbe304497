"""GX Data Docs of a run: rendered into the run directory and copied to a stable place.

Why two places: the run directory (``runs/<run_id>/gx/data_docs``) keeps the docs of that
run next to its dbt artefacts, so a gate message stored in ``audit.gate_decisions`` keeps
pointing at the results it talks about (until the run directory is pruned); the stable
copy (``$CLIENTBASE_HOME/docs/gx``) is always the latest run, which is what
``python -m clientbase.docs --serve`` serves beside the dbt docs.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from clientbase.settings import Settings, load_settings

log = logging.getLogger(__name__)

DOCS_DIRNAME = "docs"  # under CLIENTBASE_HOME: the docs site (dbt/, gx/, index.html)
GX_DIRNAME = "gx"
SITE_DIRNAME = "data_docs"  # what expectations.build_data_docs writes under a results dir


@dataclass(frozen=True)
class DataDocs:
    """Where the Data Docs of a run can be opened."""

    run_index: Path  # runs/<run_id>/gx/data_docs/index.html
    latest_index: Path  # $CLIENTBASE_HOME/docs/gx/index.html

    def describe(self) -> str:
        return (f"GX Data Docs of this run: {self.run_index}\n"
                f"  (latest run also at {self.latest_index}; `make docs` serves it)")


def docs_dir(settings: Settings | None = None) -> Path:
    """The docs site: dbt docs, GX Data Docs and an index page linking both."""
    return (settings or load_settings()).home / DOCS_DIRNAME


def latest_dir(settings: Settings | None = None) -> Path:
    """The stable copy of the latest run's GX Data Docs."""
    return docs_dir(settings) / GX_DIRNAME


def publish(results_dir: Path, latest: Path) -> DataDocs:
    """Render the Data Docs of ``results_dir`` and replace ``latest`` with a copy of them.

    The copy is written beside ``latest`` and swapped in by renames, so a reader (the docs
    server) never sees a half-copied site.
    """
    from clientbase.quality.expectations import build_data_docs

    index = build_data_docs(results_dir)
    replace_tree(index.parent, latest)
    log.info("GX Data Docs copied to %s", latest)
    return DataDocs(run_index=index, latest_index=latest / "index.html")


def replace_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (directories), swapped in by renames."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(target.name + ".incoming")
    outgoing = target.with_name(target.name + ".outgoing")
    shutil.rmtree(incoming, ignore_errors=True)
    shutil.rmtree(outgoing, ignore_errors=True)
    shutil.copytree(source, incoming)
    if target.exists():
        target.rename(outgoing)
    incoming.rename(target)
    shutil.rmtree(outgoing, ignore_errors=True)


def newest_run_site(settings: Settings | None = None) -> Path | None:
    """The Data Docs site of the most recent run that has one (when no stable copy exists)."""
    root = (settings or load_settings()).run_dir
    if not root.is_dir():
        return None
    sites = [p for p in root.glob(f"*/{GX_DIRNAME}/{SITE_DIRNAME}") if (p / "index.html").is_file()]
    return max(sites, key=lambda p: (p / "index.html").stat().st_mtime) if sites else None
