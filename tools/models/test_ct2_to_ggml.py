#!/usr/bin/env python3
"""Self-test of the converter on a tiny synthetic CTranslate2 Whisper model (no downloads).

  $CACHE/.venv/bin/python tools/models/test_ct2_to_ggml.py      (needs numpy)

Writes a 1+1-layer WhisperSpec model.bin the way ctranslate2's model_spec._serialize does, converts
it, reads the ggml file back and checks hparams, vocabulary bytes, tensor names, shapes, types and
that the fused q/k/v and k/v blocks were split in the right order.
"""

import os
import struct
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ct2_to_ggml as c  # noqa: E402

D, FF, MELS, ACTX, TCTX = 8, 32, 80, 6, 4


def write_ct2(path, variables, aliases=()):
    def s(x):
        b = x.encode()
        return struct.pack("<H", len(b) + 1) + b + b"\0"

    ids = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.float16): 4}
    out = [struct.pack("<I", 6), s("WhisperSpec"), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, arr in sorted(variables.items()):
        arr = np.asarray(arr)
        out += [s(name), struct.pack("<B", arr.ndim), struct.pack("<%dI" % arr.ndim, *arr.shape),
                struct.pack("<B", ids[arr.dtype]), struct.pack("<I", arr.nbytes), arr.tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    for a, t in aliases:
        out += [s(a), s(t)]
    with open(path, "wb") as f:
        f.write(b"".join(out))


def rnd(rng, *shape):
    return rng.standard_normal(shape).astype(np.float16)


def synthetic(n_vocab):
    rng = np.random.default_rng(0)
    v = {
        "encoder/num_heads": np.array(2, dtype=np.int16),
        "decoder/num_heads": np.array(2, dtype=np.int16),
        "decoder/pre_norm": np.array(1, dtype=np.int8),
        "decoder/scale_embeddings": np.array(0, dtype=np.int8),
        "encoder/conv1/weight": rnd(rng, D, MELS, 3), "encoder/conv1/bias": rnd(rng, D),
        "encoder/conv2/weight": rnd(rng, D, D, 3), "encoder/conv2/bias": rnd(rng, D),
        "encoder/position_encodings/encodings": rnd(rng, ACTX, D),
        "decoder/position_encodings/encodings": rnd(rng, TCTX, D),
        "decoder/embeddings/weight": rnd(rng, n_vocab, D),
    }
    for side in ("encoder", "decoder"):
        for ln in ([side + "/layer_norm"] + ["%s/layer_0/%s/layer_norm" % (side, x) for x in ("self_attention", "ffn")]
                   + (["decoder/layer_0/attention/layer_norm"] if side == "decoder" else [])):
            v[ln + "/gamma"], v[ln + "/beta"] = rnd(rng, D), rnd(rng, D)
        p = side + "/layer_0/"
        qkv_b = rnd(rng, 3 * D)
        qkv_b[D:2 * D] = 0
        v[p + "self_attention/linear_0/weight"], v[p + "self_attention/linear_0/bias"] = rnd(rng, 3 * D, D), qkv_b
        v[p + "self_attention/linear_1/weight"], v[p + "self_attention/linear_1/bias"] = rnd(rng, D, D), rnd(rng, D)
        v[p + "ffn/linear_0/weight"], v[p + "ffn/linear_0/bias"] = rnd(rng, FF, D), rnd(rng, FF)
        v[p + "ffn/linear_1/weight"], v[p + "ffn/linear_1/bias"] = rnd(rng, D, FF), rnd(rng, D)
    p = "decoder/layer_0/attention/"
    kv_b = rnd(rng, 2 * D)
    kv_b[:D] = 0
    v[p + "linear_0/weight"], v[p + "linear_0/bias"] = rnd(rng, D, D), rnd(rng, D)
    v[p + "linear_1/weight"], v[p + "linear_1/bias"] = rnd(rng, 2 * D, D), kv_b
    v[p + "linear_2/weight"], v[p + "linear_2/bias"] = rnd(rng, D, D), rnd(rng, D)
    return v


def read_ggml(path):
    with open(path, "rb") as f:
        d = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        r = struct.unpack_from("<" + fmt, d, pos)
        pos += struct.calcsize("<" + fmt)
        return r

    magic, = take("i")
    hp = take("11i")
    nm, nf = take("2i")
    filters = np.frombuffer(d, "<f4", nm * nf, pos).reshape(nm, nf)
    pos += 4 * nm * nf
    n, = take("i")
    toks = []
    for _ in range(n):
        ln, = take("i")
        toks.append(d[pos:pos + ln])
        pos += ln
    tensors = {}
    while pos < len(d):
        nd, ln, ft = take("3i")
        ne = take("%di" % nd)
        name = d[pos:pos + ln].decode()
        pos += ln
        dt = np.dtype("<f4" if ft == 0 else "<f2")
        cnt = int(np.prod(ne))
        tensors[name] = (ft, np.frombuffer(d, dt, cnt, pos).reshape(tuple(reversed(ne))))
        pos += cnt * dt.itemsize
    return magic, hp, filters, toks, tensors


class ConverterTest(unittest.TestCase):
    def test_tiny_model(self):
        vocab = ["!", "Ġhello", "Ã¡", "Ä", ""] + ["<|endoftext|>", "<|startoftranscript|>", "<|0.00|>"]
        v = synthetic(len(vocab))
        with tempfile.TemporaryDirectory() as tmp:
            mb, vt, out = (os.path.join(tmp, x) for x in ("model.bin", "vocabulary.txt", "out.bin"))
            write_ct2(mb, v, [("decoder/projection/weight", "decoder/embeddings/weight")])
            with open(vt, "w", encoding="utf-8") as f:
                f.write("\n".join(vocab) + "\n")
            c.convert(mb, vt, out, log=lambda *_: None)
            magic, hp, filters, toks, t = read_ggml(out)

        self.assertEqual(magic, c.GGML_MAGIC)
        self.assertEqual(list(hp), [len(vocab), ACTX, D, 2, 1, TCTX, D, 2, 1, MELS, 1])
        self.assertEqual(filters.shape, (80, 201))
        # GPT-2 byte-level strings back to raw bytes: "Ġ" is a space, "Ã¡" the UTF-8 of "á",
        # "Ä" the lone byte 0xC4 (half a character), "" the empty token; stops at <|endoftext|>.
        self.assertEqual(toks, [b"!", b" hello", b"\xc3\xa1", b"\xc4", b""])
        # encoder: 5 top + 2 ln_post + 15 per layer; decoder: 2 top + 2 ln + 24 per layer
        self.assertEqual(len(t), 5 + 2 + 15 + 2 + 2 + 24)

        w = v["encoder/layer_0/self_attention/linear_0/weight"]
        np.testing.assert_array_equal(t["encoder.blocks.0.attn.query.weight"][1], w[:D])
        np.testing.assert_array_equal(t["encoder.blocks.0.attn.key.weight"][1], w[D:2 * D])
        np.testing.assert_array_equal(t["encoder.blocks.0.attn.value.weight"][1], w[2 * D:])
        self.assertNotIn("encoder.blocks.0.attn.key.bias", t)
        b = v["decoder/layer_0/attention/linear_1/bias"]
        np.testing.assert_array_equal(t["decoder.blocks.0.cross_attn.value.bias"][1], b[D:].astype(np.float32))
        self.assertEqual(t["decoder.blocks.0.cross_attn.value.bias"][0], 0)
        self.assertEqual(t["encoder.conv1.weight"][1].shape, (D, MELS, 3))
        self.assertEqual(t["encoder.conv1.weight"][0], 1)
        self.assertEqual(t["encoder.conv1.bias"][1].shape, (D, 1))
        self.assertEqual(t["encoder.conv1.bias"][0], 0)
        self.assertEqual(t["encoder.positional_embedding"][0], 0)
        self.assertEqual(t["decoder.token_embedding.weight"][0], 1)
        self.assertIn("decoder.blocks.0.cross_attn_ln.weight", t)
        self.assertIn("encoder.ln_post.bias", t)
        self.assertIn("decoder.ln.weight", t)

    def test_nonzero_key_bias_is_refused(self):
        vocab = ["!", "<|endoftext|>"]
        v = synthetic(len(vocab))
        v["encoder/layer_0/self_attention/linear_0/bias"][D] = 1
        with tempfile.TemporaryDirectory() as tmp:
            mb, vt = os.path.join(tmp, "model.bin"), os.path.join(tmp, "vocabulary.txt")
            write_ct2(mb, v)
            with open(vt, "w", encoding="utf-8") as f:
                f.write("\n".join(vocab) + "\n")
            with self.assertRaisesRegex(c.ConversionError, "key bias"):
                c.convert(mb, vt, os.path.join(tmp, "o"), log=lambda *_: None)

    def test_truncated_model_is_refused(self):
        v = synthetic(2)
        with tempfile.TemporaryDirectory() as tmp:
            mb = os.path.join(tmp, "model.bin")
            write_ct2(mb, v)
            with open(mb, "r+b") as f:
                f.truncate(os.path.getsize(mb) // 2)
            with self.assertRaisesRegex(c.ConversionError, "truncated"):
                c.read_ct2(mb)

    def test_mel_filters_shape_and_norm(self):
        m = c.mel_filters()
        self.assertEqual((m.shape, m.dtype), ((80, 201), np.float32))
        self.assertTrue((m >= 0).all())
        self.assertAlmostEqual(float(m.max()), 0.025880683, places=7)


if __name__ == "__main__":
    unittest.main()
