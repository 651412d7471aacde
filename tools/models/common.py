"""Shared helpers of the model setup: progress file, hashing, atomic writes, the cache lock."""

import fcntl
import hashlib
import json
import os
import sys
import tempfile
import time


class SetupError(Exception):
    """A failure the user must see: bad hash, missing package, truncated download, ..."""


def log(msg):
    print("setup-models: %s" % msg, file=sys.stderr, flush=True)


def write_json_atomic(path, obj, indent=None):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=indent, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path, on_bytes=None, chunk=8 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
            if on_bytes:
                on_bytes(len(b))
    return h.hexdigest()


class Progress:
    """$CACHE/progress.json: {"stage", "percent", "done", "error"} (+ "updated"), replaced atomically.

    Work is planned as weighted steps; `step(name, weight)` opens one and `frac(x)` moves inside it,
    so the percentage only ever grows."""

    def __init__(self, path):
        self.path = path
        self.total = 1.0
        self.base = 0.0
        self.weight = 0.0
        self.stage = "starting"
        self.last_write = 0.0
        self.last_pct = -1

    def plan(self, total_weight):
        self.total = max(float(total_weight), 1e-9)

    def _write(self, pct, done=False, error=None, force=False):
        now = time.time()
        if not force and pct == self.last_pct and now - self.last_write < 2.0:
            return
        self.last_write, self.last_pct = now, pct
        write_json_atomic(
            self.path,
            {"stage": self.stage, "percent": pct, "done": done, "error": error, "updated": int(now)},
        )

    def percent(self, inner=0.0):
        p = (self.base + self.weight * min(max(inner, 0.0), 1.0)) / self.total
        return max(0, min(99, int(p * 100)))

    def step(self, stage, weight):
        self.base += self.weight
        self.weight = float(weight)
        self.stage = stage
        log(stage)
        self._write(self.percent(0.0), force=True)

    def frac(self, x):
        self._write(self.percent(x))

    def finish(self, stage="done"):
        self.stage = stage
        self._write(100, done=True, force=True)

    def fail(self, message):
        self._write(self.percent(0.0), done=False, error=message, force=True)


class CacheLock:
    """Exclusive lock on $CACHE/.lock so two runs never write the same files."""

    def __init__(self, cache):
        self.path = os.path.join(cache, ".lock")
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another setup-models run holds %s; waiting for it" % self.path)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
