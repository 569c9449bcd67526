"""One Ctrl-C stops a benchmark session promptly, and is never lost.

Python runs a signal handler in the main thread between two bytecodes, wherever that is:
also inside an object's `__del__` or a garbage-collector callback, where an exception is
printed as "ignored" and dropped. JAX frees device buffers in such callbacks all the time,
so a plain KeyboardInterrupt during a JAX warm-up was sometimes swallowed and the session
went on. Here the handler also remembers the request, and the session asks at safe
points (`check`: every batch and epoch the progress callbacks see, every run), so a
dropped KeyboardInterrupt is raised again within a step. A second Ctrl-C is Python's own.
"""

from __future__ import annotations

import signal

_requested = False


def _handler(signum, frame) -> None:
    global _requested
    if _requested:  # the second Ctrl-C: no more waiting for a safe point
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT as above (main thread only, as Python's signal handlers are)."""
    global _requested
    _requested = False
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """KeyboardInterrupt if a Ctrl-C came since `install`, even one dropped on the way."""
    if _requested:
        raise KeyboardInterrupt


def requested() -> bool:
    return _requested


def die_with_parent() -> None:
    """In a child, before exec: a SIGKILL when its parent dies, so a killed sweep or block
    leaves no orphan training on the device (Linux; elsewhere nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
