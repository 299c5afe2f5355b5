"""``goldilocks`` command line: build the book, manage datasets.

Usage::

    goldilocks book --profile quick|paper --device auto|cpu|cuda [--chapters ...]
                    [--kernel NAME] [--out DIR] [--in-place] [--no-html]
    goldilocks data list | fetch NAME | verify  [--root DIR]
"""
from __future__ import annotations

import argparse
import sys

from .profiles import PROFILE_NAMES, check_profile

__all__ = ["main"]


def _profile(value: str) -> str:
    try:
        return check_profile(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="goldilocks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute chapters with papermill and build the HTML book")
    book.add_argument("--profile", default="quick", type=_profile,
                      help=f"{', '.join(PROFILE_NAMES)} or a .toml profile file (default: quick)")
    book.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    book.add_argument("--seed", type=int, default=None, help="override every chapter's seed")
    book.add_argument("--chapters", nargs="*", default=None, help="chapter names or stems (default: all in _toc.yml)")
    book.add_argument("--kernel", default=None, help="Jupyter kernel to execute on (default: the notebook's)")
    book.add_argument("--out", default="_build/executed", help="folder for the executed copies")
    book.add_argument("--in-place", action="store_true",
                      help="overwrite the committed notebooks under book/ with the executed ones")
    book.add_argument("--no-html", action="store_true", help="execute only; skip the HTML build")

    data = sub.add_parser("data", help="list, fetch and verify datasets")
    dsub = data.add_subparsers(dest="action", required=True)
    listing = dsub.add_parser("list", help="datasets, whether they are cached and where they come from")
    fetch = dsub.add_parser(
        "fetch", help="copy (system location) or download one dataset into the cache, payload-md5-checked")
    fetch.add_argument("name", help="dataset name; case, '-', '_' and spaces are ignored (Fashion-MNIST)")
    verify = dsub.add_parser("verify", help="check the payload md5 of every cached file")
    for p in (listing, fetch, verify):
        p.add_argument("--root", default=None, help="cache folder (default: $GOLDILOCKS_DATA or data/)")
    return parser


def _run_book(args) -> int:
    from .book import build

    html = build(
        profile=args.profile, device=args.device, seed=args.seed, chapter_names=args.chapters,
        kernel=args.kernel, out=args.out, in_place=args.in_place, html=not args.no_html,
    )
    if html is not None:
        print(f"The book is at {html / 'index.html'}")
    return 0


def _run_data(args) -> int:
    from . import data

    try:
        if args.action == "list":
            for row in data.describe(root=args.root):
                print(row)
            return 0
        if args.action == "fetch":
            for path in data.fetch(args.name, root=args.root):
                print(f"ok {path}")
            return 0
        problems = data.verify(root=args.root)
    except OSError as err:  # offline, missing, unwritable cache (PermissionError), ...
        print(f"goldilocks: error: {err}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    return 1 if any(line.startswith("BAD") for line in problems) else 0


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{text}: {err.filename}"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one line and return 2, a failing chapter 1."""
    from .book import ChapterFailed

    args = _parser().parse_args(argv)
    try:
        return _run_book(args) if args.command == "book" else _run_data(args)
    except ChapterFailed as err:
        print(f"goldilocks: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("goldilocks: interrupted; committed notebooks are unchanged", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError, ConnectionError) as err:
        kind = "" if isinstance(err, (ValueError, RuntimeError)) else f"{type(err).__name__}: "
        print(f"goldilocks: error: {kind}{_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
