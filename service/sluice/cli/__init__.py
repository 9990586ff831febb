"""The `sluice` command: serve, and manage tenants, API keys and customers on the server's store.

Every expected mistake (a bad flag or setting, a port in use, an unusable data directory or
store) ends as one line on stderr and exit status 1 or 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from sluice import __version__, datadir
from sluice.cli import customers, keys, meters
from sluice.cli.common import (
    DEFAULTS,
    Formatter,
    UsageError,
    debug_option,
    fail,
    settings_of,
    store_options,
)
from sluice.errors import ConfigurationError, StoreUnavailable
from sluice.settings import port


def _serve(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    # grpc's C core reads its own level once, when grpc is first imported (by the server): it
    # follows SLUICE_GRPC_LOG_LEVEL too, unless GRPC_VERBOSITY is set.
    verbose = settings.grpc_log_level in ("DEBUG", "INFO")
    os.environ.setdefault("GRPC_VERBOSITY", settings.grpc_log_level if verbose else "ERROR")
    from sluice.server import run

    run(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__, formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    debug_option(parser, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the HTTP and gRPC servers", formatter_class=Formatter
    )
    serve.add_argument("--host", help=f"bind address (env SLUICE_HOST; default {DEFAULTS.host})")
    serve.add_argument(
        "--http-port",
        type=port,
        help=f"HTTP port, 0 for any free one (env SLUICE_HTTP_PORT; default {DEFAULTS.http_port})",
    )
    serve.add_argument(
        "--grpc-port",
        type=port,
        help=f"gRPC port, 0 for any free one (env SLUICE_GRPC_PORT; default {DEFAULTS.grpc_port})",
    )
    store_options(serve)
    serve.set_defaults(run=_serve)
    keys.add_commands(commands)
    customers.add_commands(commands)
    meters.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    datadir.private_by_default()
    try:
        code: int = args.run(args)
    except (ConfigurationError, UsageError) as exc:
        if args.debug:
            raise
        return fail(str(exc))
    except StoreUnavailable as exc:
        if args.debug:
            raise
        return fail(f"the store is unavailable: {exc}")
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
