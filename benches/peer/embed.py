#!/usr/bin/env python3
"""The peer for `moodtape bench embed`: PyTorch sentence-transformers embedding the same texts, same model.

    python3 benches/peer/embed.py --texts stanzas.jsonl [--model DIR] [--threads N] [--batch 32] [--device cpu]

Reads the `text` field of each JSONL line (write the file with `moodtape bench texts`), embeds every text with
all-MiniLM-L6-v2 as sentence-transformers does (mean pooling, normalized), and prints one JSON object:
texts/s, tokens/s, the threads and device used. --model takes the folder moodtape fetched (`moodtape models
info` prints it); the pooling is set here, so the folder needs only config.json, tokenizer.json and the weights.
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", required=True, help="JSONL file with a \"text\" field per line")
    ap.add_argument("--model", default=None, help="model folder (default: moodtape's cache)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="cpu, cuda")
    ap.add_argument("--precision", default="f32", choices=["f32", "f16", "bf16"], help="GPU only: f16/bf16")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes (the best is kept)")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.set_num_threads(args.threads)
    model_dir = args.model or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "moodtape", "models")
    with open(args.texts, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    if not texts:
        sys.exit("no texts in " + args.texts)

    word = models.Transformer(model_dir, max_seq_length=256)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pool, models.Normalize()], device=args.device)
    if args.precision != "f32":
        model = model.to(torch.float16 if args.precision == "f16" else torch.bfloat16)
    tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=256)["input_ids"])

    def run():
        with torch.inference_mode():
            model.encode(texts, batch_size=args.batch, convert_to_numpy=True, show_progress_bar=False)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    run()  # warm-up
    best = float("inf")
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    print(json.dumps({
        "peer": "sentence-transformers " + __import__("sentence_transformers").__version__
                + ", torch " + torch.__version__,
        "device": args.device,
        "precision": args.precision,
        "threads": args.threads,
        "batch": args.batch,
        "texts": len(texts),
        "tokens": tokens,
        "seconds": best,
        "texts_per_s": len(texts) / best,
        "tokens_per_s": tokens / best,
    }))


if __name__ == "__main__":
    main()
