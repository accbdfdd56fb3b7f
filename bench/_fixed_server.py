"""The floor for ``runmodel serve``: the same kind of server answering every request at once.

A standard-library ``ThreadingHTTPServer`` on loopback, keep-alive HTTP/1.1 with Nagle off (as
``runmodel serve``), that reads no state and answers every request with the status, headers and
body given as JSON. Prints its base URL, serves until SIGINT or SIGTERM.
Run: ``python bench/_fixed_server.py '{"status": 200, "headers": [], "body": "{}"}'``.
"""

from __future__ import annotations

import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["main"]


def main() -> int:
    reply = json.loads(sys.argv[1])
    status: int = reply["status"]
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in reply["headers"]]
    body: bytes = reply["body"].encode()

    class Fixed(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = answer

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        block_on_close = False

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    httpd = Server(("127.0.0.1", 0), Fixed)
    print(f"fixed reply server: listening on http://127.0.0.1:{httpd.server_address[1]}/v1")
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
