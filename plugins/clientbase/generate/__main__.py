"""``python -m clientbase.generate``: write the demo data from the command line."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from clientbase.generate import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clientbase.generate", description=__doc__)
    parser.add_argument("--landing", type=Path, help="landing folder for the CSV files")
    parser.add_argument("--source-url", help="PostgreSQL URL of the source database (SQL mode)")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--end-month", help="YYYY-MM, default: the last complete month")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.landing is None and args.source_url is None:
        parser.error("give --landing, --source-url or both")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    generate(args.landing, args.source_url, months=args.months, end_month=args.end_month,
             clients=args.clients, seed=args.seed)


if __name__ == "__main__":
    main()
