"""Write a tiny Llama-architecture model as GGUF with the `gguf` package (no hub download):
two layers, 64-dim, a byte-fallback SentencePiece-style vocabulary of letters, weights drawn
from a seeded generator. It answers nonsense, but the same nonsense for the same prompt under
greedy decoding, which is all a pipeline test needs. `--seed` gives another "version";
`--width` and `--layers` a bigger model, as fast to load and slower to answer (a slower
version for the release's latency checks).

Random weights alone give near-tied logits, and a near tie is decided by float rounding, which
differs between a server and an in-process run (thread count, batch size): the answers would
differ by run. So the weights are built for wide margins: the layers add little to the
residual stream, and the output matrix maps each token's (unit) embedding to one chosen next
word piece, whose logit then leads the others by a wide gap: a seeded bigram chain."""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import gguf
import numpy as np

N_EMBD, N_HEAD, N_FF, N_LAYER, N_CTX = 64, 4, 128, 2, 512
QUIET = 0.02  # scale of the layers' weights: the residual stream stays the token's embedding
MARGIN = 10.0  # the chosen next piece's logit over the others' (before the final norm's gain)
SPACE = "\u2581"  # SentencePiece's word boundary
# the last message ends the prompt: its last piece picks the answer's first piece
CHAT_TEMPLATE = "{% for m in messages %}{{ m['content'] }}{% endfor %}"


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    words = [SPACE, *string.ascii_lowercase, *(SPACE + c for c in string.ascii_lowercase)]
    tokens += words
    types += [gguf.TokenType.NORMAL] * len(words)
    scores = [0.0] * 259 + [-float(i) for i in range(len(words))]
    return tokens, scores, [int(t) for t in types]


def write(path: Path, seed: int, width: int = N_EMBD, layers: int = N_LAYER) -> None:
    tokens, scores, types = vocabulary()
    n_embd, n_ff = width, 2 * width
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"tiny-llama-seed{seed}")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(n_embd // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_chat_template(CHAT_TEMPLATE)

    embeddings = rng.standard_normal((len(tokens), n_embd)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    writer.add_tensor("token_embd.weight", embeddings)
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(n_embd, n_embd) * QUIET)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd) * QUIET)
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd) * QUIET)
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff) * QUIET)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    # every token (bytes and controls too) leads to one word piece: only word pieces can win,
    # so answers are letters, never stray bytes or an early end (always max_tokens long)
    words = [i for i, t in enumerate(types) if t == gguf.TokenType.NORMAL]
    following = rng.choice(words, size=len(tokens))
    output = np.zeros((len(tokens), n_embd), np.float32)
    for token, after in enumerate(following):
        output[after] += MARGIN * embeddings[token]
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("model.gguf"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--width", type=int, default=N_EMBD, help="embedding size")
    parser.add_argument("--layers", type=int, default=N_LAYER)
    args = parser.parse_args(argv)
    write(args.out, args.seed, args.width, args.layers)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
