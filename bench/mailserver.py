"""The local SendGrid stand-in with a listen backlog of 128 connections, for load above 5 concurrent senders.

``acehooks.mailcapture`` serves with socketserver's default backlog of 5, and
at 32 concurrent workers the kernel reset some connections to it. This script
serves the same handler with a longer backlog.

Usage: ``python bench/mailserver.py --port PORT [--dir DIR]``.
"""

import argparse
from http.server import ThreadingHTTPServer
from pathlib import Path

from acehooks.mailcapture import MailStore, _make_handler

LISTEN_BACKLOG = 128


class BackloggedServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--dir", type=Path, default=None, help="directory that receives one JSON file per message")
    args = parser.parse_args()
    server = BackloggedServer(("127.0.0.1", args.port), _make_handler(MailStore(args.dir)))
    print(f"mail capture listening on 127.0.0.1:{args.port} with a backlog of {LISTEN_BACKLOG}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
