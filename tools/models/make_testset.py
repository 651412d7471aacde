#!/usr/bin/env python3
"""Synthesise the interpreting test set's audio (run as `scripts/setup-models --testset`).

Reads tests/interpreter/testset/sentences.json and, for every item whose language espeak-ng can
speak, writes $CACHE/testset/<id>.wav: 16 kHz, mono, 16-bit PCM (what whisper.cpp wants), with a
little silence around the speech.  $CACHE/testset/index.json lists every item with its text,
references and the WAV file (or "audio": null and the reason, e.g. Mongolian: no espeak-ng voice).
Machine speech is only a smoke test for the pipeline; real recordings are needed for quality.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_json_atomic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SENTENCES = os.path.join(ROOT, "tests", "interpreter", "testset", "sentences.json")
RATE = 16000
PAD_S = 0.3


def espeak_voices():
    out = subprocess.run(["espeak-ng", "--voices"], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}


def espeak_version():
    p = subprocess.run(["espeak-ng", "--version"], stdout=subprocess.PIPE, text=True)
    return p.stdout.strip()


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError("%s: expected 16-bit samples" % path)
        rate, ch = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x / 32768.0, rate


def resample(x, src, dst):
    """Band-limited resampling through the FFT (fine for short clips)."""
    if src == dst or len(x) == 0:
        return x
    n_out = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    if keep <= len(spec):
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - len(spec), dtype=spec.dtype)])
    return np.fft.irfft(spec, n_out) * (n_out / len(x))


def write_wav(path, x, rate):
    pad = np.zeros(int(PAD_S * rate))
    y = np.concatenate([pad, x, pad])
    peak = np.max(np.abs(y)) if len(y) else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype("<i2")
    tmp = path + ".tmp-%d" % os.getpid()
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)
    return len(pcm) / rate


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="model cache dir; audio goes to CACHE/testset")
    ap.add_argument("--sentences", default=SENTENCES)
    ap.add_argument("--speed", type=int, default=150, help="espeak-ng words per minute")
    a = ap.parse_args(argv)

    if shutil.which("espeak-ng") is None:
        print("make_testset: ERROR: espeak-ng is not installed (sudo apt-get install -y espeak-ng)", file=sys.stderr)
        return 1
    with open(a.sentences, encoding="utf-8") as f:
        doc = json.load(f)
    out_dir = os.path.join(os.path.abspath(a.cache), "testset")
    os.makedirs(out_dir, exist_ok=True)
    voices = espeak_voices()
    index = {"source": os.path.relpath(a.sentences, ROOT), "espeak": espeak_version(), "rate": RATE, "items": []}
    made = missing = 0
    with tempfile.TemporaryDirectory() as tmp:
        for item in doc["items"]:
            entry = {k: item[k] for k in ("id", "speaker", "lang", "text", "translations", "review")}
            voice = doc.get("espeak_voices", {}).get(item["lang"])
            if not voice or voice not in voices:
                entry["audio"] = None
                entry["audio_missing"] = "espeak-ng has no voice for '%s'" % item["lang"]
                missing += 1
            else:
                raw = os.path.join(tmp, item["id"] + ".wav")
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(a.speed), "-w", raw, item["text"]],
                               check=True, stdout=subprocess.DEVNULL)
                x, rate = read_wav(raw)
                dur = write_wav(os.path.join(out_dir, item["id"] + ".wav"), resample(x, rate, RATE), RATE)
                entry["audio"] = item["id"] + ".wav"
                entry["voice"] = voice
                entry["duration_s"] = round(dur, 2)
                made += 1
            index["items"].append(entry)
    write_json_atomic(os.path.join(out_dir, "index.json"), index, indent=1)
    print("make_testset: %d WAVs in %s, %d items without audio (text only); index: %s"
          % (made, out_dir, missing, os.path.join(out_dir, "index.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
