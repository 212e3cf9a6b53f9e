"""Start gcloud-tasks-emulator bound to 127.0.0.1; it binds every interface ("[::]") on its own.

Run with the tasks venv's Python and the emulator's usual arguments: run.py start -p PORT ...
"""

import sys

import grpc._server
from gcloud_tasks_emulator.__main__ import main

_add_insecure_port = grpc._server._Server.add_insecure_port


def _loopback_only(server, address: str) -> int:
    if address.startswith("[::]:"):
        address = "127.0.0.1:" + address.rsplit(":", 1)[1]
    return _add_insecure_port(server, address)


grpc._server._Server.add_insecure_port = _loopback_only

if __name__ == "__main__":
    sys.argv[0] = "gcloud-tasks-emulator"
    main()
