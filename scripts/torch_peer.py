#!/usr/bin/env python3
"""The kit's routed decoder-only transformer in PyTorch (CPU), to measure training throughput.

The same model as lib/model (TypeScript/tfjs):
  token + learned absolute position embeddings -> L pre-LayerNorm blocks
    x = x + W_o attn(LN1(x) W_qkv)    causal multi-head attention, no biases
    x = x + FFN(LN2(x))               dense: W2 gelu(W1 .), d_ff = 4 d, no biases
                                      routed (a fraction R of blocks): E such FFNs, top-1
  -> final LayerNorm -> unembedding W_out [d, V], NOT tied to the input embedding.
Routed blocks: block i is routed when floor((i + 1) R) > floor(i R) (lib/counting's routedBlocks).
GELU is the sigmoid form x * sigmoid(1.702 x), as in lib/nn/ops.ts.
Dispatch: per-expert gather / scatter (index_add_), capacity C = ceil(cf * k * T / E) slots filled
in token order; choices over capacity are dropped (the token passes through the residual).
Routers (--router): sbase  linear router, Sinkhorn-balanced scores (no grad, to a tolerance with
an iteration cap, on exp(logits / 0.1)) choose the expert at training time, output scaled by the softmax probability;
hash  a fixed random token-id -> expert map; rlr  a sampled softmax policy trained by REINFORCE
(reward = -token cross-entropy, learned baseline, normalised advantage, entropy term), output not
scaled; dense  E = 1. Defaults follow lib/routers (Sinkhorn tolerance 1e-3, 100 iterations; RL-R
weights 0.1 / 0.01 / 0.1).
Optimiser: AdamW (decay on matrices only), gradient clipping at 1. Batches are uniform random
token ids: throughput does not depend on the text.

Usage:
  /usr/bin/python3 scripts/torch_peer.py --d-model 64 --layers 2 --heads 4 --experts 8 \
      --vocab 2048 --seq 128 --batch 16 --steps 20 --threads 1
prints one JSON line: tokens_per_s (timed after --warmup steps), step_ms, params, ...
"""
import argparse
import json
import math
import os
import sys
import time

# Two settings read at process start (hence the re-exec; values the caller set are kept):
# - glibc returns every freed block over 128 KiB to the kernel (mmap), so each step's large
#   temporaries (logits [B*S, V] are 16 MB at V = 2048) come back as fresh pages that fault in
#   and are zeroed again: measured 2x slower steps. Keep blocks up to 32 MiB in the heap instead.
# - libgomp's idle threads spin by default; on a shared, oversubscribed machine two spinning
#   threads made steps 6x slower (d 64, load ~7). PASSIVE makes them sleep.
START_ENV = {
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296",
    "OMP_WAIT_POLICY": "PASSIVE",
}
if __name__ == "__main__" and any(k not in os.environ for k in START_ENV):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**START_ENV, **os.environ})

try:
    import torch
    import torch.nn as nn
except ImportError:  # Debian's python3-torch lives in the system interpreter
    sys.exit("torch_peer.py: PyTorch not found; run it with /usr/bin/python3 "
             "(Debian: apt-get install python3-torch)")

GELU_K = 1.702


def routed_blocks(layers, r):
    eps = 1e-9
    return [i for i in range(layers)
            if math.floor((i + 1) * r + eps) > math.floor(i * r + eps)]


def gelu(x):
    return x * torch.sigmoid(GELU_K * x)


def sinkhorn(probs, tol=1e-3, max_iter=100):
    """Balances probs [T, E] so rows sum to 1 and every expert's share is 1/E to within `tol`
    (largest relative deviation), as lib/routers/sinkhorn.ts; returns the plan and iterations."""
    p = probs.double()
    t, e = p.shape
    for it in range(max_iter):
        p = p / p.sum(0, keepdim=True) * (t / e)
        p = p / p.sum(1, keepdim=True)
        if (p.sum(0) * e / t - 1).abs().max() < tol:
            return p, it + 1
    return p, max_iter


class Block(nn.Module):
    def __init__(self, d, heads, experts, routed, router, vocab, cf, seq, std, std_out, gen,
                 temperature):
        super().__init__()
        self.d, self.heads, self.routed, self.router_kind, self.cf = d, heads, routed, router, cf
        self.temperature = temperature
        self.ln1 = nn.LayerNorm(d)
        self.ln2 = nn.LayerNorm(d)
        self.w_qkv = nn.Parameter(torch.randn(d, 3 * d, generator=gen) * std)
        self.w_o = nn.Parameter(torch.randn(d, d, generator=gen) * std_out)
        n = experts if routed else 1
        self.w1 = nn.ParameterList(
            [nn.Parameter(torch.randn(d, 4 * d, generator=gen) * std) for _ in range(n)])
        self.w2 = nn.ParameterList(
            [nn.Parameter(torch.randn(4 * d, d, generator=gen) * std_out) for _ in range(n)])
        self.register_buffer("mask", torch.ones(seq, seq).triu(1).bool(), persistent=False)
        if routed and router in ("sbase", "rlr"):
            self.w_router = nn.Parameter(torch.randn(d, experts, generator=gen) * std)
        if routed and router == "rlr":  # learned baseline b = w_b2 . gelu(W_b1 x), x detached
            dh = max(1, d // 8)
            self.w_b1 = nn.Parameter(torch.randn(d, dh, generator=gen) * std)
            self.w_b2 = nn.Parameter(torch.randn(dh, 1, generator=gen) * std)
        if routed and router == "hash":
            self.register_buffer("hash_map", torch.randint(0, experts, (vocab,), generator=gen))
        self.stats = {}

    def attention(self, x, batch, seq):
        qkv = x @ self.w_qkv  # [B*S, 3d]
        hk = self.d // self.heads
        q, k, v = qkv.view(batch, seq, 3, self.heads, hk).permute(2, 0, 3, 1, 4)  # [B, H, S, hk]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hk)
        att = att.masked_fill(self.mask[:seq, :seq], float("-inf")).softmax(-1)
        ctx = (att @ v).transpose(1, 2).reshape(batch * seq, self.d)  # [B*S, d]
        return ctx @ self.w_o

    def ffn(self, h, ids):
        if not self.routed:
            return gelu(h @ self.w1[0]) @ self.w2[0], None
        t, experts = h.shape[0], len(self.w1)
        logp = None
        if self.router_kind == "hash":
            choice = self.hash_map[ids]
            combine = None
        else:
            logits = h @ self.w_router  # [T, E]
            probs = logits.softmax(-1)
            if self.router_kind == "sbase":
                if self.training:
                    with torch.no_grad():  # on exp(logits / temperature), as lib/routers
                        plan, iters = sinkhorn((logits.detach() / self.temperature).softmax(-1))
                    self.stats["sinkhorn_iters"] = iters
                    choice = plan.argmax(-1)
                else:
                    choice = probs.argmax(-1)
                combine = probs.gather(1, choice[:, None])[:, 0]
            else:  # rlr: sample from the policy; no scaling of the expert output
                choice = torch.multinomial(probs.detach(), 1)[:, 0] if self.training \
                    else probs.argmax(-1)
                log_probs = logits.log_softmax(-1)
                baseline = (gelu(h.detach() @ self.w_b1) @ self.w_b2)[:, 0]
                logp = (log_probs.gather(1, choice[:, None])[:, 0], log_probs, baseline)
                combine = None
        cap = max(1, math.ceil(self.cf * t / experts))
        out = torch.zeros_like(h)
        dropped = 0
        for e in range(experts):
            idx = (choice == e).nonzero(as_tuple=True)[0]
            if idx.numel() > cap:
                dropped += idx.numel() - cap
                idx = idx[:cap]
            if idx.numel() == 0:
                continue
            y = gelu(h[idx] @ self.w1[e]) @ self.w2[e]
            if combine is not None:
                y = y * combine[idx, None]
            out.index_add_(0, idx, y)
        self.stats["dropped"] = dropped / t
        return out, logp

    def forward(self, x, ids, batch, seq):
        x = x + self.attention(self.ln1(x), batch, seq)
        y, logp = self.ffn(self.ln2(x), ids)
        return x + y, logp


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        gen = torch.Generator().manual_seed(a.seed)
        std, std_out = 0.02, 0.02 / math.sqrt(2 * a.layers)
        d = a.d_model
        self.tok = nn.Parameter(torch.randn(a.vocab, d, generator=gen) * std)
        self.pos = nn.Parameter(torch.randn(a.seq, d, generator=gen) * std)
        dense = a.experts == 1 and a.router == "dense"
        routed = set() if dense else set(routed_blocks(a.layers, a.routing_frequency))
        self.blocks = nn.ModuleList([
            Block(d, a.heads, a.experts, i in routed, a.router, a.vocab, a.capacity_factor,
                  a.seq, std, std_out, gen, a.sinkhorn_temperature) for i in range(a.layers)])
        self.ln_f = nn.LayerNorm(d)
        self.w_out = nn.Parameter(torch.randn(d, a.vocab, generator=gen) * std)

    def forward(self, tokens):
        batch, w = tokens.shape
        seq = w - 1
        ids = tokens[:, :-1].reshape(-1)
        targets = tokens[:, 1:].reshape(-1)
        x = self.tok[ids] + self.pos[:seq].repeat(batch, 1)  # [B*S, d]
        policies = []
        for blk in self.blocks:
            x, logp = blk(x, ids, batch, seq)
            if logp is not None:
                policies.append((blk, logp))
        logits = self.ln_f(x) @ self.w_out  # [B*S, V]
        # Cross-entropy written out: Debian's torch 1.13 log_softmax kernel is slower than this.
        z = logits - logits.detach().max(-1, keepdim=True)[0]
        token_loss = z.exp().sum(-1).log() - z.gather(1, targets[:, None])[:, 0]
        loss = token_loss.mean()
        objective = loss
        reward = -token_loss.detach()
        for _, (chosen, log_probs, baseline) in policies:  # REINFORCE, as lib/routers/rlr.ts
            adv = reward - baseline.detach()
            adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-6)
            pg = -(adv * chosen).mean()
            entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
            base = ((baseline - reward) ** 2).mean()
            objective = objective + 0.1 * (pg - 0.01 * entropy) + 0.1 * base
        return loss, objective


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--experts", type=int, default=1)
    p.add_argument("--router", default=None, help="dense | sbase | hash | rlr")
    p.add_argument("--routing-frequency", type=float, default=0.5)
    p.add_argument("--capacity-factor", type=float, default=2.0)
    p.add_argument("--sinkhorn-temperature", type=float, default=0.1,
                   help="S-BASE balances exp(logits / T) (lib/routers/sbase.ts default 0.1)")
    p.add_argument("--vocab", "--vocab-size", dest="vocab", type=int, default=2048)
    p.add_argument("--seq", "--seq-len", dest="seq", type=int, default=128)
    p.add_argument("--batch", "--batch-size", dest="batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="accepted; the output is always JSON")
    a = p.parse_args()
    if a.router is None:
        a.router = "dense" if a.experts == 1 else "sbase"
    a.router = {"s-base": "sbase", "rl-r": "rlr"}.get(a.router.lower(), a.router.lower())
    if a.router not in ("dense", "sbase", "hash", "rlr"):
        p.error(f"unknown router {a.router!r}: use dense, sbase, hash or rlr")
    if a.experts < 1 or (a.router == "dense" and a.experts != 1):
        p.error("experts must be >= 1, and 1 for the dense router")
    if not 0 < a.routing_frequency <= 1:
        p.error("routing frequency R must be in (0, 1]")
    if a.d_model % a.heads:
        p.error(f"d_model {a.d_model} is not divisible by heads {a.heads}")
    if a.threads < 1 or a.steps < 1:
        p.error("threads and steps must be >= 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Model(a)
    decay = [q for n, q in model.named_parameters() if q.dim() >= 2]
    no_decay = [q for n, q in model.named_parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(a.seed + 1)
    model.train()
    losses = []

    def step():
        tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=gen)
        loss, objective = model(tokens)
        opt.zero_grad(set_to_none=True)
        objective.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss))

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    params = sum(q.numel() for q in model.parameters())
    emb = model.tok.numel() + model.pos.numel() + model.w_out.numel()
    tokens = a.batch * a.seq * a.steps
    print(json.dumps({
        "tokens_per_s": round(tokens / dt, 1),
        "step_ms": round(1000 * dt / a.steps, 2),
        # CPU seconds of this process (all threads): less sensitive to other processes' load.
        "tokens_per_cpu_s": round(tokens / cpu, 1),
        "params": params,
        "params_non_embedding": params - emb,
        "threads": a.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch_version": torch.__version__,
        "router": a.router,
        "experts": a.experts,
        "d_model": a.d_model,
        "layers": a.layers,
        "heads": a.heads,
        "routing_frequency": a.routing_frequency,
        "vocab_size": a.vocab,
        "seq_len": a.seq,
        "batch_size": a.batch,
        "steps": a.steps,
        "warmup": a.warmup,
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }))


if __name__ == "__main__":
    main()
