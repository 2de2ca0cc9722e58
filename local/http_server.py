"""The threaded HTTP server the local run's listeners share: the standard library's, with a real backlog."""

from __future__ import annotations

from http.server import ThreadingHTTPServer

LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn


class ThreadedHTTPServer(ThreadingHTTPServer):
    """One daemon thread per connection; a burst of connections waits in the backlog instead of being dropped.

    socketserver listens with a backlog of 5: a sixth simultaneous SYN is dropped and its client stalls for
    the retransmit (1 s, then 3 s) or gives up.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
