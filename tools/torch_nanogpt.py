#!/usr/bin/env python3
"""PyTorch baseline for `normlab bench --torch` and for loss-curve comparisons.

nanoGPT's model and training step (model.py / train.py, no compile, float32, CPU) with the
normlab spec's layout: separate q/k/v projections, rmsnorm (eps 1e-6 inside the root) or
layernorm, exact gelu, tied head, AdamW (fused=False) with decay on 2-D tensors.
Run with Debian's torch: /usr/bin/python3 tools/torch_nanogpt.py --help

Modes:
  --mode bench  : time `--iters` training iterations after `--warmup`, then sample 500 tokens
                  (nanoGPT's generate: a full forward over the cropped context per token);
                  prints one JSON line.
  --mode train  : train `--iters` iterations like normlab train with evaluations; prints JSON lines.
"""
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F


class RMSNorm(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.gain


class LayerNorm(nn.Module):
    def __init__(self, C, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


def make_norm(a):
    return RMSNorm(a.n_embd) if a.norm == 'rmsnorm' else LayerNorm(a.n_embd, a.bias)


class Attention(nn.Module):
    def __init__(self, a):
        super().__init__()
        C = a.n_embd
        self.c_attn_q = nn.Linear(C, C, bias=a.bias)
        self.c_attn_k = nn.Linear(C, C, bias=a.bias)
        self.c_attn_v = nn.Linear(C, C, bias=a.bias)
        self.c_proj = nn.Linear(C, C, bias=a.bias)
        self.n_head = a.n_head
        T = a.block_size
        self.register_buffer('mask', torch.tril(torch.ones(T, T)).view(1, 1, T, T), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q = self.c_attn_q(x).view(B, T, H, C // H).transpose(1, 2)
        k = self.c_attn_k(x).view(B, T, H, C // H).transpose(1, 2)
        v = self.c_attn_v(x).view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.c_fc = nn.Linear(a.n_embd, 4 * a.n_embd, bias=a.bias)
        self.c_proj = nn.Linear(4 * a.n_embd, a.n_embd, bias=a.bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.pre_ln_attn = make_norm(a)
        self.attn = Attention(a)
        self.pre_ln_mlp = make_norm(a)
        self.mlp = MLP(a)

    def forward(self, x):
        x = x + self.attn(self.pre_ln_attn(x))
        return x + self.mlp(self.pre_ln_mlp(x))


class GPT(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(a.vocab_size, a.n_embd), wpe=nn.Embedding(a.block_size, a.n_embd),
            h=nn.ModuleList([Block(a) for _ in range(a.n_layer)]), ln_f=make_norm(a)))
        self.lm_head = nn.Linear(a.n_embd, a.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith('c_proj.weight'):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * a.n_layer))

    def _init(self, m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for b in self.transformer.h:
            x = b(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, n, temperature=0.8, top_k=200):
        for _ in range(n):
            cond = idx if idx.size(1) <= self.a.block_size else idx[:, -self.a.block_size:]
            logits, _ = self(cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float('Inf')
            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, dim=-1), 1)), dim=1)
        return idx


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--mode', choices=['bench', 'train'], default='bench')
    p.add_argument('--data_dir', default='data/shakespeare_char')
    for k, v in dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, iters=20, warmup=3,
                     threads=2, seed=1337, eval_interval=250, eval_iters=20, sample_tokens=500).items():
        p.add_argument('--' + k, type=int, default=v)
    p.add_argument('--norm', choices=['rmsnorm', 'layernorm'], default='rmsnorm')
    p.add_argument('--bias', action='store_true')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--min_lr', type=float, default=1e-4)
    p.add_argument('--decay_lr', action='store_true')
    p.add_argument('--warmup_iters', type=int, default=100)
    p.add_argument('--vocab_size', type=int, default=0, help="the model's vocabulary (0: the dataset's meta.json); "
                   "50304 gives GPT-2's padded head on any dataset")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    meta = json.load(open(os.path.join(a.data_dir, 'meta.json')))
    a.vocab_size = a.vocab_size or meta['vocab_size']
    train = np.fromfile(os.path.join(a.data_dir, 'train.bin'), dtype=np.uint16)
    val = np.fromfile(os.path.join(a.data_dir, 'val.bin'), dtype=np.uint16)

    def batch(d):
        ix = torch.randint(len(d) - a.block_size, (a.batch_size,))
        x = torch.stack([torch.from_numpy(d[i:i + a.block_size].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(d[i + 1:i + 1 + a.block_size].astype(np.int64)) for i in ix])
        return x, y

    model = GPT(a)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.99), eps=1e-8)

    def lr_at(it):
        if not a.decay_lr:
            return a.lr
        if it < a.warmup_iters:  # as src/train/schedule.ts (nanoGPT's form): never 0 at the first update
            return a.lr * (it + 1) / (a.warmup_iters + 1)
        if it > a.iters:
            return a.min_lr
        r = (it - a.warmup_iters) / (a.iters - a.warmup_iters)
        return a.min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (a.lr - a.min_lr)

    def step(it):
        for g in opt.param_groups:
            g['lr'] = lr_at(it)
        x, y = batch(train)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    if a.mode == 'bench':
        for it in range(a.warmup):
            step(it)
        t = time.perf_counter()
        for it in range(a.iters):
            step(it)
        ms = (time.perf_counter() - t) * 1000 / a.iters
        model.eval()
        t = time.perf_counter()
        model.generate(torch.zeros((1, 1), dtype=torch.long), a.sample_tokens)
        sample_tps = a.sample_tokens / (time.perf_counter() - t)
        nparams = sum(q.numel() for q in model.parameters())
        import resource  # peak resident memory of this process (Linux: kB)
        print(json.dumps(dict(ms_per_iter=ms, sample_tokens_per_s=sample_tps, params=nparams,
                              torch=torch.__version__, threads=torch.get_num_threads(),
                              peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
        return

    @torch.no_grad()
    def estimate():
        model.eval()
        out = {}
        for name, d in (('train', train), ('val', val)):
            out[name] = sum(model(*batch(d))[1].item() for _ in range(a.eval_iters)) / a.eval_iters
        model.train()
        return out

    for it in range(a.iters + 1):
        if it % a.eval_interval == 0 or it == a.iters:
            e = estimate()
            print(json.dumps(dict(iter=it, train_loss=e['train'], val_loss=e['val'])), flush=True)
        if it == a.iters:
            break
        loss = step(it)
        if it % 100 == 0:
            print(json.dumps(dict(iter=it, loss=loss)), flush=True)


if __name__ == '__main__':
    main()
