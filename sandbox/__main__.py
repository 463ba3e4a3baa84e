"""Command line: ``python -m sandbox serve --world FILE`` and ``python -m sandbox generate-world ...``."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.world import DEMO_WORLD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="A local AWS Organization on loopback.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="build a world and serve it until SIGTERM")
    serve.add_argument("--world", default=str(DEMO_WORLD), help="world file (YAML); default: the demo world")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only unless forced)")
    serve.add_argument("--port", type=int, default=5600, help="port; 0 picks a free one (see --port-file)")
    serve.add_argument("--port-file", help="write {port, endpoint, pid} as JSON here once the world is built")
    serve.add_argument(
        "--allow-non-loopback", action="store_true", help="allow a non-loopback --host (not recommended)"
    )
    serve.add_argument("--verbose", action="store_true", help="log every request")

    gen = sub.add_parser("generate-world", help="write a large world file for benchmarks")
    gen.add_argument("--accounts", type=int, required=True, help="member accounts")
    gen.add_argument("--regions", type=int, default=2, help="regions (from a fixed list)")
    gen.add_argument("--instances", type=int, default=10, help="instances per account and region")
    gen.add_argument("--ou-depth", type=int, default=3, help="depth of the OU tree")
    gen.add_argument("--ou-fanout", type=int, default=3, help="child OUs per OU")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--time-scale", type=float, default=0.01)
    gen.add_argument("--no-roles", action="store_true", help="do not deploy the automation roles")
    gen.add_argument("--out", required=True, help="output file")

    check = sub.add_parser("check-world", help="validate a world file and print a summary")
    check.add_argument("world")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "serve":
        from sandbox.server import serve as run

        run(
            args.world,
            host=args.host,
            port=args.port,
            port_file=args.port_file,
            allow_non_loopback=args.allow_non_loopback,
            quiet=not args.verbose,
        )
        return 0
    if args.command == "generate-world":
        from sandbox.generate import write_world

        path = write_world(args)
        print(f"wrote {path}")
        return 0
    if args.command == "check-world":
        from sandbox.world import WorldError, load_world

        try:
            w = load_world(args.world)
        except WorldError as exc:
            print(exc, file=sys.stderr)
            return 1
        n = sum(s.count for s in w.instance_specs)
        print(
            f"{args.world}: ok ({len(w.accounts)} accounts, {len(w.ous)} OUs, {len(w.regions)} regions, {n} instances)"
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
