"""`dlcourse search index|query|duplicates`: the photo search tool on the command line.

FAISS, Pillow and the backbone load only when a search sub-command runs, not for the rest of `dlcourse`; a query
loads no TensorFlow at all (it embeds with the index's LiteRT copy of its embedder, see .lite).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Cosine similarity above which two photos count as duplicates with the default embedder: the best-F1 point of
# the precision/recall curve on the bundled near-duplicate set (course/08_visual_search.ipynb).
DEFAULT_DUPLICATE_THRESHOLD = 0.8


def resolve_index_dir(path) -> Path:
    """An index folder, or a photo folder holding one in .dlcourse-search/; the path itself when neither."""
    from .index import DEFAULT_INDEX_FOLDER, MANIFEST

    path = Path(path).expanduser()
    if not (path / MANIFEST).is_file() and (path / DEFAULT_INDEX_FOLDER / MANIFEST).is_file():
        return path / DEFAULT_INDEX_FOLDER
    return path


def cmd_index(args: argparse.Namespace) -> None:
    """Index a folder of photos (only new or changed files are embedded)."""
    from .index import index_folder

    index, report = index_folder(args.folder, args.index, batch_size=args.batch_size, rebuild=args.rebuild)
    print(f"indexed {len(index)} images of {index.root} in {index.directory}: {report.summary()}")
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")


def cmd_query(args: argparse.Namespace) -> None:
    """Print the indexed photos most similar to a photo, with their cosine similarity."""
    from .index import load_index, query_embedder, query_image

    index = load_index(resolve_index_dir(args.index))
    embedder, note = query_embedder(index)
    if note:
        print(note, file=sys.stderr)
    matches = query_image(index, args.image, k=args.k, embedder=embedder)
    for rank, match in enumerate(matches, start=1):
        note = "" if match.exists else "   (deleted since indexing: run `dlcourse search index` again)"
        print(f"{rank:3d}. {match.score:.3f}  {match.path}{note}")


def cmd_duplicates(args: argparse.Namespace) -> None:
    """Write the groups of near-duplicate photos as a CSV and an HTML contact sheet."""
    from .index import duplicate_groups, load_index
    from .report import write_duplicate_report

    index = load_index(resolve_index_dir(args.index))
    groups = duplicate_groups(index, args.threshold)
    out = Path(args.out) if args.out else index.directory
    csv_path, html_path = write_duplicate_report(index, groups, args.threshold, out)
    files = sum(len(group) for group in groups)
    print(f"{len(groups)} duplicate groups ({files} files) above similarity {args.threshold:g}: {csv_path}, "
          f"open {html_path} in a browser")


def run(args: argparse.Namespace) -> int:
    """Run a search sub-command; a SearchError prints one line saying what to do (exit status 2)."""
    from .index import SearchError

    try:
        args.search_run(args)
    except SearchError as err:
        print(f"dlcourse search {args.search_command}: {err}", file=sys.stderr)
        return 2
    return 0


def add_search_command(sub) -> None:
    """Add `search` with its three sub-commands to the dlcourse command line's sub-parsers."""
    search = sub.add_parser("search", help="visual search in a folder of your own photos (module 08)")
    commands = search.add_subparsers(dest="search_command", required=True)
    index = commands.add_parser("index", help=cmd_index.__doc__)
    index.add_argument("folder", help="the folder of photos (searched recursively for JPEG, PNG and WebP)")
    index.add_argument("--index", help="where the index goes (default: FOLDER/.dlcourse-search)")
    index.add_argument("--batch-size", type=int, default=32, help="images embedded at once (bounds memory)")
    index.add_argument("--rebuild", action="store_true", help="start again, ignoring an existing index")
    index.set_defaults(search_run=cmd_index)
    query = commands.add_parser("query", help=cmd_query.__doc__)
    query.add_argument("image", help="the query photo")
    query.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    duplicates = commands.add_parser("duplicates", help=cmd_duplicates.__doc__)
    duplicates.add_argument("--threshold", type=float, default=DEFAULT_DUPLICATE_THRESHOLD,
                            help=f"cosine similarity above which photos are duplicates (default "
                                 f"{DEFAULT_DUPLICATE_THRESHOLD})")
    duplicates.add_argument("--out", help="folder for duplicates.csv and duplicates.html (default: the index's)")
    for command, handler in ((query, cmd_query), (duplicates, cmd_duplicates)):
        command.add_argument("--index", default=".",
                             help="the index folder, or the photo folder it was built in (default: here)")
        command.set_defaults(search_run=handler)
    search.set_defaults(run=run)
