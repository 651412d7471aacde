#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (faster-whisper layout) to whisper.cpp's ggml format.

Input: a directory (or explicit paths) with
  model.bin        CTranslate2 binary model, spec "WhisperSpec" (float16 or float32 weights)
  vocabulary.txt   one token a line, GPT-2 byte-level BPE strings (+ special tokens)
Output: one file laid out exactly like whisper.cpp's models/convert-pt-to-ggml.py writes it
(the `ggml-base.bin` layout whisper.cpp 1.8.x loads):

  int32 magic 0x67676d6c ("ggml")
  int32 hparams: n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
                 n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype(1 = f16)
  int32 n_mel, int32 n_fft_bins, float32[n_mel * n_fft_bins] mel filter bank
  int32 n_tokens, then per token: int32 length, raw bytes
  tensors, each: int32 n_dims, int32 name_len, int32 type (0 f32 / 1 f16),
                 int32 ne[n_dims] (fastest-varying first), name, data

Only numpy is needed; the CTranslate2 runtime is not.  The CT2 format is the one written by
ctranslate2/specs/model_spec.py (`_serialize`, binary version 6): uint32 version, string spec name,
uint32 revision, uint32 n_variables, then per variable: string name, uint8 rank, uint32 dims[rank],
uint8 dtype (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), uint32 n_bytes, data; then uint32 n_aliases,
(string alias, string target) pairs.  Strings are uint16 length (incl. NUL) + bytes + NUL.

Usage: ct2_to_ggml.py MODEL_DIR OUT_FILE   (or --model-bin F --vocab F OUT_FILE)
"""

import argparse
import math
import os
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ConversionError(Exception):
    pass


# --------------------------------------------------------------------------- CT2 reader


def read_ct2(path):
    """Return (spec_name, revision, {name: np.ndarray (memory-mapped)}, {alias: target})."""
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(mm)
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("H")
        raw = bytes(buf[pos : pos + n])
        pos += n
        if not raw.endswith(b"\0"):
            raise ConversionError("CT2: malformed string at offset %d" % pos)
        return raw[:-1].decode("utf-8")

    (version,) = take("I")
    if version < 5 or version > 6:
        raise ConversionError("CT2: unsupported binary version %d (expected 5 or 6)" % version)
    spec = string()
    (revision,) = take("I")
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        shape = take("%dI" % rank) if rank else ()
        (dtype_id,) = take("B")
        (nbytes,) = take("I")
        if dtype_id not in CT2_DTYPES:
            raise ConversionError("CT2: variable %s has unsupported dtype id %d" % (name, dtype_id))
        dtype = np.dtype(CT2_DTYPES[dtype_id])
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
        if nbytes != expected:
            raise ConversionError("CT2: variable %s: %d bytes for shape %s" % (name, nbytes, shape))
        if pos + nbytes > len(mm):
            raise ConversionError(
                "CT2: model.bin is truncated (variable %s needs bytes up to %d, file has %d)"
                % (name, pos + nbytes, len(mm))
            )
        arr = np.frombuffer(mm, dtype=dtype, count=nbytes // dtype.itemsize, offset=pos)
        variables[name] = arr.reshape(shape) if shape else arr.reshape(())
        pos += nbytes
    aliases = {}
    if pos < len(mm):
        (n_alias,) = take("I")
        for _ in range(n_alias):
            alias = string()
            aliases[alias] = string()
    if pos != len(mm):
        raise ConversionError("CT2: %d trailing bytes after the model" % (len(mm) - pos))
    return spec, revision, variables, aliases


# --------------------------------------------------------------------------- mel filters


def mel_filters(n_mels=80, sr=16000, n_fft=400):
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney mel scale, Slaney norm),
    which is what openai-whisper's assets/mel_filters.npz holds.  Computed in Python floats (IEEE
    double, libm) step by step as librosa does, so the result is bit-reproducible."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def hz_to_mel(f):
        if f >= min_log_hz:
            return min_log_mel + math.log(f / min_log_hz) / logstep
        return f / f_sp

    def mel_to_hz(m):
        if m >= min_log_mel:
            return min_log_hz * math.exp(logstep * (m - min_log_mel))
        return f_sp * m

    n_bins = 1 + n_fft // 2
    val = 1.0 / (n_fft * (1.0 / sr))  # numpy.fft.rfftfreq(n_fft, 1/sr)
    fftfreqs = [k * val for k in range(n_bins)]
    n_pts = n_mels + 2
    lo, hi = hz_to_mel(0.0), hz_to_mel(sr / 2.0)
    step = (hi - lo) / (n_pts - 1)  # numpy.linspace
    mels = [i * step + lo for i in range(n_pts)]
    mels[-1] = hi
    mel_f = [mel_to_hz(m) for m in mels]
    fdiff = [mel_f[i + 1] - mel_f[i] for i in range(n_pts - 1)]
    out = np.zeros((n_mels, n_bins), dtype=np.float32)
    for i in range(n_mels):
        enorm = 2.0 / (mel_f[i + 2] - mel_f[i])
        row = []
        for k in range(n_bins):
            lower = -(mel_f[i] - fftfreqs[k]) / fdiff[i]
            upper = (mel_f[i + 2] - fftfreqs[k]) / fdiff[i + 1]
            w32 = float(np.float32(max(0.0, min(lower, upper))))
            row.append(w32 * enorm)
        out[i] = np.array(row, dtype=np.float64).astype(np.float32)
    return out


# --------------------------------------------------------------------------- vocabulary


def bytes_to_unicode():
    """GPT-2's byte <-> unicode table (same as whisper.cpp's convert-pt-to-ggml.py)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_vocab(path):
    with open(path, "r", encoding="utf-8", newline="\n") as f:
        data = f.read()
    if data.endswith("\n"):
        data = data[:-1]
    return data.split("\n")


def ggml_vocab(tokens):
    """The byte strings whisper.cpp's file carries: the BPE tokens before <|endoftext|>, decoded to
    raw bytes (whisper.cpp makes up the special and timestamp tokens itself)."""
    try:
        eot = tokens.index("<|endoftext|>")
    except ValueError:
        raise ConversionError("vocabulary.txt has no <|endoftext|> token")
    decoder = {u: b for b, u in bytes_to_unicode().items()}
    out = []
    for i, tok in enumerate(tokens[:eot]):
        try:
            out.append(bytes(decoder[c] for c in tok))
        except KeyError as e:
            raise ConversionError("token %d %r has a character outside GPT-2's byte alphabet: %r" % (i, tok, e.args[0]))
    return out


# --------------------------------------------------------------------------- tensor mapping


def _split(arr, parts, name):
    if arr.shape[0] % parts:
        raise ConversionError("%s: first dimension %d not divisible by %d" % (name, arr.shape[0], parts))
    return np.split(arr, parts, axis=0)


def tensor_plan(v, n_audio_layer, n_text_layer):
    """Yield (whisper.cpp name, array) in openai-whisper's state-dict order."""

    def need(name):
        if name not in v:
            raise ConversionError("CT2 model lacks variable %s" % name)
        return v[name]

    def ln(src, dst):
        yield dst + ".weight", need(src + "/gamma")
        yield dst + ".bias", need(src + "/beta")

    def linear(src, dst):
        yield dst + ".weight", need(src + "/weight")
        yield dst + ".bias", need(src + "/bias")

    def fused(src, dsts, name_for_check):
        w = _split(need(src + "/weight"), len(dsts), src + "/weight")
        b = _split(need(src + "/bias"), len(dsts), src + "/bias") if (src + "/bias") in v else [None] * len(dsts)
        for dst, wi, bi in zip(dsts, w, b):
            yield dst + ".weight", wi
            if dst.endswith(".key"):
                # openai-whisper's key projection has no bias; CT2 fills the fused bias with zeros.
                if bi is not None and np.any(bi.astype(np.float32) != 0):
                    raise ConversionError("%s: key bias is not zero; whisper.cpp has no key bias" % name_for_check)
                continue
            if bi is None:
                raise ConversionError("%s: bias missing" % src)
            yield dst + ".bias", bi

    def self_attn(src, dst):
        yield from fused(src + "/linear_0", [dst + ".query", dst + ".key", dst + ".value"], src)
        yield from linear(src + "/linear_1", dst + ".out")

    def cross_attn(src, dst):
        yield from linear(src + "/linear_0", dst + ".query")
        yield from fused(src + "/linear_1", [dst + ".key", dst + ".value"], src)
        yield from linear(src + "/linear_2", dst + ".out")

    def ffn(src, dst):
        yield from linear(src + "/linear_0", dst + ".mlp.0")
        yield from linear(src + "/linear_1", dst + ".mlp.2")
        yield from ln(src + "/layer_norm", dst + ".mlp_ln")

    yield "encoder.positional_embedding", need("encoder/position_encodings/encodings")
    yield "encoder.conv1.weight", need("encoder/conv1/weight")
    yield "encoder.conv1.bias", need("encoder/conv1/bias")
    yield "encoder.conv2.weight", need("encoder/conv2/weight")
    yield "encoder.conv2.bias", need("encoder/conv2/bias")
    for i in range(n_audio_layer):
        s, d = "encoder/layer_%d" % i, "encoder.blocks.%d" % i
        yield from self_attn(s + "/self_attention", d + ".attn")
        yield from ln(s + "/self_attention/layer_norm", d + ".attn_ln")
        yield from ffn(s + "/ffn", d)
    yield from ln("encoder/layer_norm", "encoder.ln_post")

    yield "decoder.positional_embedding", need("decoder/position_encodings/encodings")
    yield "decoder.token_embedding.weight", need("decoder/embeddings/weight")
    for i in range(n_text_layer):
        s, d = "decoder/layer_%d" % i, "decoder.blocks.%d" % i
        yield from self_attn(s + "/self_attention", d + ".attn")
        yield from ln(s + "/self_attention/layer_norm", d + ".attn_ln")
        yield from cross_attn(s + "/attention", d + ".cross_attn")
        yield from ln(s + "/attention/layer_norm", d + ".cross_attn_ln")
        yield from ffn(s + "/ffn", d)
    yield from ln("decoder/layer_norm", "decoder.ln")


F32_ALWAYS = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
}


def _count_layers(v, prefix):
    n = 0
    while ("%s/layer_%d/ffn/linear_0/weight" % (prefix, n)) in v:
        n += 1
    return n


def convert(model_bin, vocab_txt, out_path, log=print, on_progress=None):
    spec, revision, v, aliases = read_ct2(model_bin)
    if spec != "WhisperSpec":
        raise ConversionError("CT2 spec is %r, expected WhisperSpec" % spec)
    for name in ("decoder/scale_embeddings",):
        if name in v and int(v[name]) != 0:
            raise ConversionError("%s is set; not an openai-whisper model" % name)
    if int(v.get("decoder/pre_norm", np.array(1))) != 1:
        raise ConversionError("decoder/pre_norm is not set; not an openai-whisper model")

    n_audio_layer = _count_layers(v, "encoder")
    n_text_layer = _count_layers(v, "decoder")
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx, n_text_state = v["decoder/position_encodings/encodings"].shape
    n_vocab = v["decoder/embeddings/weight"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_head = int(v["encoder/num_heads"])
    n_text_head = int(v["decoder/num_heads"])
    wdtype = v["decoder/embeddings/weight"].dtype
    if wdtype not in (np.float16, np.float32):
        raise ConversionError("weights are %s; only float16/float32 CT2 models are supported" % wdtype)

    tokens = read_vocab(vocab_txt)
    if len(tokens) != n_vocab:
        raise ConversionError("vocabulary.txt has %d tokens, the model %d" % (len(tokens), n_vocab))
    vocab = ggml_vocab(tokens)
    if n_vocab >= 51865 and len(vocab) != 50257:
        raise ConversionError("multilingual model but %d BPE tokens before <|endoftext|>" % len(vocab))

    hparams = [n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
               n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, 1]
    log("hparams: n_vocab=%d audio ctx/state/head/layer=%d/%d/%d/%d text ctx/state/head/layer=%d/%d/%d/%d n_mels=%d"
        % tuple(hparams[:10]))
    filters = mel_filters(n_mels=n_mels)

    plan = list(tensor_plan(v, n_audio_layer, n_text_layer))
    total = sum(a.size for _, a in plan)
    done = 0
    tmp = out_path + ".part"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<i", GGML_MAGIC))
            f.write(struct.pack("<11i", *hparams))
            f.write(struct.pack("<ii", *filters.shape))
            f.write(filters.astype("<f4").tobytes())
            f.write(struct.pack("<i", len(vocab)))
            for tok in vocab:
                f.write(struct.pack("<i", len(tok)))
                f.write(tok)
            for name, arr in plan:
                data = np.squeeze(arr)
                if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                    data = data.reshape(data.shape[0], 1)
                if data.ndim < 2 or name in F32_ALWAYS:
                    data, ftype = data.astype("<f4"), 0
                else:
                    data, ftype = data.astype("<f2"), 1
                raw = name.encode("utf-8")
                f.write(struct.pack("<iii", data.ndim, len(raw), ftype))
                f.write(struct.pack("<%di" % data.ndim, *reversed(data.shape)))
                f.write(raw)
                f.write(np.ascontiguousarray(data).tobytes())
                done += arr.size
                if on_progress:
                    on_progress(done / total)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    os.replace(tmp, out_path)
    log("wrote %s: %d tensors, %d bytes" % (out_path, len(plan), os.path.getsize(out_path)))
    return {"hparams": hparams, "tensors": len(plan)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", nargs="?", help="directory with model.bin and vocabulary.txt")
    ap.add_argument("out", help="output ggml file")
    ap.add_argument("--model-bin")
    ap.add_argument("--vocab")
    a = ap.parse_args(argv)
    model_bin = a.model_bin or os.path.join(a.model_dir or ".", "model.bin")
    vocab = a.vocab or os.path.join(a.model_dir or ".", "vocabulary.txt")
    try:
        convert(model_bin, vocab, a.out)
    except ConversionError as e:
        print("ct2_to_ggml: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
