"""Killable worker processes: (function, args, timeout) -> the function's result, or WorkerLost.

Cleaning a hostile page can take seconds (a 9 MB page took 4.7 s; 50,000 nested divs are quadratic)
and a thread cannot be stopped, so the pipeline parses pages in a few worker processes. A call that
outlives its timeout kills its worker and raises WorkerTimeout; the next call starts a fresh worker.
A worker that dies mid-call (segfault, OOM killer) raises WorkerDied; a closed pool raises PoolClosed.

Workers are forked from a forkserver that imported `preload` once, and the imports of a main script that
multiprocessing runs again in every worker: a replacement starts in a few milliseconds, and our threaded
process is never forked. Each worker retires after `max_tasks` calls,
so whatever the parsing libraries cache or leak is handed back and memory stays flat over months.
A worker exits by itself when its parent dies (its pipe reaches EOF), so a kill -9 leaves no orphans.
The function must be importable by name (a module-level function) and must not rely on raising:
an exception it raises comes back as WorkerError with its text only.
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import logging
import multiprocessing
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has mallopt), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_M_MMAP_THRESHOLD: Final = -3  # glibc's mallopt parameter
MMAP_THRESHOLD: Final = 256 * 1024  # bytes: a block this big gets its own mapping (see _map_large_blocks)

STOP_WAIT: Final = 2.0  # seconds a retired or idle worker gets to exit before it is killed
MAX_TASKS: Final = 500  # calls a worker answers before it is replaced (what the libraries cache is handed back)
START_TIMEOUT: Final = 60.0  # seconds a worker may take to start: the first one waits for the forkserver's imports


class WorkerLost(Exception):
    """A call got no result: see the subclasses."""


class WorkerTimeout(WorkerLost):
    """The call outlived its timeout; its worker was killed."""


class WorkerDied(WorkerLost):
    """The worker exited mid-call."""


class PoolClosed(WorkerLost):
    """The pool was closed before or during the call."""


class WorkerError(Exception):
    """The function raised in the worker; the message is `ExceptionType: text`."""


def _serve(conn: Connection, max_tasks: int) -> None:
    """Worker main loop: answer up to max_tasks calls, then exit (the parent starts a fresh worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us itself
    # Nothing a worker prints may break the parent's one-line (or JSON) log: results carry the errors.
    logging.getLogger().addHandler(logging.NullHandler())
    warnings.simplefilter("ignore")
    _map_large_blocks()
    try:
        conn.send(("ready", None))
    except (BrokenPipeError, ConnectionResetError):
        return  # the pool was closed while we started (a pass with nothing to parse): nothing to say
    for _ in range(max_tasks):
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pool, or died
        try:
            reply: tuple[str, Any] = ("ok", function(*args))
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # an unpicklable result
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _map_large_blocks() -> None:
    """Keep blocks over 256 KiB in their own mappings, so a big page's parse trees go back to the OS when freed.

    glibc raises that threshold after each such free and serves later big blocks from a heap it rarely
    shrinks: fixing it took the pass's process tree from 399 to 381 MiB of summed peak RSS (bench/throughput.py).
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def main_imports() -> list[str]:
    """The loaded modules that the main script imports, when multiprocessing runs it again in every worker.

    A worker's start (multiprocessing.spawn.prepare) runs the main script again, as __mp_main__, unless it is a
    package's __main__ (`python -m ingest`, `python -m pytest`): the `ingest` console script imports the whole
    CLI, 260 ms a worker unless the forkserver imported it first. The stdlib's own remedy, '__main__' in the
    preload, was dead code in the forkserver until 2025 (CPython gh-126631; 3.11 and 3.12 keep it), so we
    preload what the script imports.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if path is None or name == "__main__" or name.endswith(".__main__"):
        return []
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    # `from m import f` names a function too: keep the modules, and of those only the ones the script loaded
    return [name for name in dict.fromkeys(names) if name in sys.modules]


class _Worker:
    def __init__(self, ctx: Any, max_tasks: int, start_timeout: float) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, max_tasks), daemon=True, name="ingest-worker")
        self.process.start()
        child.close()  # ours is the only other end: EOF tells us the worker died
        self.left = max_tasks
        if not self.conn.poll(start_timeout):
            self.stop()
            raise WorkerDied(f"worker did not start in {start_timeout:g} s")
        try:
            self.conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise WorkerDied(f"worker exited at start (exit code {self.process.exitcode})") from None

    def call(self, function: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        try:
            self.conn.send((function, args))
            if not self.conn.poll(timeout):
                self.stop()
                raise WorkerTimeout(f"no result in {timeout:g} s; the worker was killed")
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.stop()
            self.process.join(STOP_WAIT)
            raise WorkerDied(f"worker exited mid-call (exit code {self.process.exitcode})") from None
        self.left -= 1
        if status == "error":
            raise WorkerError(value)
        return value

    def stop(self, *, kill: bool = True) -> None:
        """Kill (or, for an idle or retired worker, let exit) and reap; close our end of the pipe.

        Only the thread that holds the worker calls this (a busy worker is never stopped by another).
        """
        if kill and self.process.is_alive():
            self.process.kill()
        elif not kill:
            self.conn.close()  # an idle worker reads EOF and exits
        self.process.join(STOP_WAIT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(STOP_WAIT)
        self.conn.close()


class WorkerPool:
    """Up to `size` worker processes, started on demand; thread-safe; `close()` kills them all."""

    def __init__(self, size: int, *, max_tasks: int = MAX_TASKS, preload: Sequence[str] = (),
                 start_timeout: float = START_TIMEOUT) -> None:
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if preload and "forkserver" in methods:
            # Only effective before the (process-wide) forkserver starts; later workers import on demand.
            self._ctx.set_forkserver_preload(list(dict.fromkeys([*preload, *main_imports()])))
        self.size = max(1, size)
        self._max_tasks = max(1, max_tasks)
        self._start_timeout = start_timeout
        self._free: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    def pids(self) -> list[int]:
        """Process ids of the live workers (for measurements)."""
        with self._cond:
            return [w.process.pid for w in (*self._free, *self._busy) if w.process.pid is not None]

    def call(self, function: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """function(*args) in a worker; raises WorkerLost subclasses or WorkerError."""
        worker = self._acquire()
        reusable = False
        try:
            result = worker.call(function, args, timeout)
            reusable = worker.left > 0
            return result
        except WorkerError:
            reusable = worker.left > 0
            raise
        except WorkerLost:
            if self._closed:
                raise PoolClosed("the pool was closed during the call") from None
            raise
        finally:
            self._release(worker, reusable)

    def warm(self) -> None:
        """Start the missing workers in the background, so the first pages do not wait for them.

        The first worker also starts the forkserver, which imports the parsing libraries (about a second):
        a pass calls this before discovery, which fetches feeds and sitemaps meanwhile.
        """
        with self._cond:
            missing = 0 if self._closed else self.size - len(self._free) - len(self._busy) - self._starting
            self._starting += max(0, missing)
        for _ in range(missing):
            threading.Thread(target=self._start_idle, name="ingest-worker-start", daemon=True).start()

    def _start_idle(self) -> None:
        worker: _Worker | None
        try:
            worker = _Worker(self._ctx, self._max_tasks, self._start_timeout)
        except Exception:  # the first call that needs a worker tries again, and raises what it gets
            worker = None
        with self._cond:
            self._starting -= 1
            if worker is not None and not self._closed:
                self._free.append(worker)
                worker = None
            self._cond.notify()
        if worker is not None:
            worker.stop(kill=False)

    def close(self) -> None:
        """Kill every worker; calls in progress raise PoolClosed. Idempotent."""
        with self._cond:
            self._closed = True
            idle, busy = list(self._free), list(self._busy)
            self._free.clear()
            self._cond.notify_all()
        for worker in busy:
            # Only killed: its caller wakes on the EOF and reaps it. Closing the pipe under a thread that
            # is reading it could hand that thread a reused file descriptor.
            worker.process.kill()
        for worker in idle:
            worker.stop(kill=False)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosed("the pool is closed")
                if self._free:
                    worker = self._free.pop()
                    self._busy.add(worker)
                    return worker
                if len(self._busy) + self._starting < self.size:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self._ctx, self._max_tasks, self._start_timeout)  # outside the lock: ~5 ms
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            if not self._closed:
                self._busy.add(worker)
                return worker
        worker.stop()
        raise PoolClosed("the pool was closed while a worker started")

    def _release(self, worker: _Worker, reusable: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = reusable and not self._closed
            if keep:
                self._free.append(worker)
            self._cond.notify()
        if not keep:
            worker.stop(kill=not (reusable or worker.left <= 0))
