#!/usr/bin/env python3
"""Transcribe the synthesised test set with a whisper.cpp CLI build and score it (developer tool).

  bench_whisper_cli.py --cli /path/to/whisper-cli --model $CACHE/whisper-base.ggml.bin \
                       --testset $CACHE/testset [--threads 2] [--only cs,uk] [--out results.json]

Each WAV is run with its language forced (-l LANG, no timestamps); the script prints the
transcript, the character error rate against the item's text (case and punctuation ignored) and
the wall time per file.  Needs only the standard library.  See docs/MODELS.md for how the CLI was
built from the whisper.cpp sources that the whisper-rs-sys crate ships.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unicodedata


def normalise(s):
    s = unicodedata.normalize("NFC", s).lower()
    s = re.sub(r"[^\w\s]", " ", s)
    return " ".join(s.split())


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(ref, hyp):
    r, h = normalise(ref), normalise(hyp)
    return edit_distance(r, h) / max(len(r), 1)


def transcribe(cli, model, wav, lang, threads):
    cmd = [cli, "-m", model, "-f", wav, "-l", lang, "-t", str(threads), "-nt", "-np"]
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-500:]))
    return " ".join(p.stdout.split()), dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--testset", required=True, help="directory with index.json and the WAVs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", help="comma-separated languages")
    ap.add_argument("--limit", type=int, default=0, help="at most N items per language")
    ap.add_argument("--out", help="write the results as JSON here")
    a = ap.parse_args(argv)

    with open(os.path.join(a.testset, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    langs = set(a.only.split(",")) if a.only else None
    per_lang = {}
    results = []
    for item in index["items"]:
        if not item.get("audio") or (langs and item["lang"] not in langs):
            continue
        if a.limit and per_lang.get(item["lang"], 0) >= a.limit:
            continue
        per_lang[item["lang"]] = per_lang.get(item["lang"], 0) + 1
        text, dt = transcribe(a.cli, a.model, os.path.join(a.testset, item["audio"]), item["lang"], a.threads)
        r = {"id": item["id"], "lang": item["lang"], "reference": item["text"], "transcript": text,
             "cer": round(cer(item["text"], text), 3), "seconds": round(dt, 2),
             "audio_seconds": item.get("duration_s")}
        results.append(r)
        print("%-14s %5.2fs CER %.2f | %s" % (r["id"], dt, r["cer"], text), flush=True)
    by_lang = {}
    for r in results:
        by_lang.setdefault(r["lang"], []).append(r["cer"])
    for lang, v in by_lang.items():
        print("%s: mean CER %.3f over %d" % (lang, sum(v) / len(v), len(v)))
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump({"model": a.model, "threads": a.threads, "results": results}, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
