#!/usr/bin/env python3
"""scripts/torch_peer.py's model trained on a PyTorch device (CUDA by default), for the GPU check.

The model, routers, optimiser and batches are torch_peer.py's (imported from it); only the device
differs: parameters, buffers and batches live on --device, and each timed step ends with a
device synchronisation. Prints one JSON line like torch_peer.py's, plus the device's name.

Usage (scripts/gpu-check.sh runs it when torch with CUDA is importable):
  python3 scripts/torch_peer_cuda.py --d-model 256 --layers 6 --heads 8 --experts 64 \
      --vocab 4096 --seq 128 --batch 32 --steps 10 [--device cuda] [--max-seconds 40]
Exit code 2 (with a message) when the device is not available.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
except ImportError:
    sys.exit("torch_peer_cuda.py: PyTorch not found (pip install torch, or Debian's python3-torch)")

import torch_peer  # noqa: E402  (the model of scripts/torch_peer.py)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--experts", type=int, default=1)
    p.add_argument("--router", default=None, help="dense | sbase | hash | rlr")
    p.add_argument("--routing-frequency", type=float, default=0.5)
    p.add_argument("--capacity-factor", type=float, default=2.0)
    p.add_argument("--sinkhorn-temperature", type=float, default=1.0)
    p.add_argument("--vocab", "--vocab-size", dest="vocab", type=int, default=4096)
    p.add_argument("--seq", "--seq-len", dest="seq", type=int, default=128)
    p.add_argument("--batch", "--batch-size", dest="batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--max-seconds", type=float, default=0, help="stop timing after this (0: off)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.router is None:
        a.router = "dense" if a.experts == 1 else "sbase"
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"torch_peer_cuda.py: torch {torch.__version__} has no CUDA device here "
              f"(torch.version.cuda = {torch.version.cuda})", file=sys.stderr)
        sys.exit(2)
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    model = torch_peer.Model(a).to(dev)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(a.seed + 1)
    model.train()
    losses = []

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def step():
        tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=gen).to(dev)
        loss, objective = model(tokens)
        opt.zero_grad(set_to_none=True)
        objective.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss))  # reads the loss back: a synchronisation, as the kit's step

    for _ in range(a.warmup):
        step()
    sync()
    timed, t0 = 0, time.perf_counter()
    while timed < a.steps:
        step()
        timed += 1
        if a.max_seconds > 0 and time.perf_counter() - t0 > a.max_seconds:
            break
    sync()
    dt = time.perf_counter() - t0
    tokens = a.batch * a.seq * timed
    print(json.dumps({
        "check": "throughput",
        "backend": f"torch-{dev.type}",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "tokens_per_s": round(tokens / dt, 1),
        "step_ms": round(1000 * dt / timed, 2),
        "timed_steps": timed,
        "params": sum(q.numel() for q in model.parameters()),
        "router": a.router,
        "experts": a.experts,
        "d_model": a.d_model,
        "layers": a.layers,
        "heads": a.heads,
        "batch_size": a.batch,
        "seq_len": a.seq,
        "vocab_size": a.vocab,
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
    }))


if __name__ == "__main__":
    main()
