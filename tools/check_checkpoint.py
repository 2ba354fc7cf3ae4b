"""Load a normlab checkpoint into the independent PyTorch GPT (tools/torch_reference.py) and evaluate it.

  /usr/bin/python3 tools/check_checkpoint.py out/parity [--dataset shakespeare_char] [--batches 10]
      [--batch_size 8] [--data_dir data] [--backend ts,native] [--no-node]

Needs torch (Debian: python3-torch, as /usr/bin/python3 has here) and numpy; not the safetensors
package: <out_dir>/ckpt.safetensors is read with the 20-line reader of torch_reference (json + struct
+ torch.frombuffer). Works on every checkpoint normlab writes: ckpt.safetensors, final.safetensors
(--ckpt), a playground download; per-layer variant lists included. Flags of the metadata `config` that
the reference does not know are listed and left out: the loss comparison below says whether they
mattered. Builds the model from the metadata `config`, load_state_dict(strict=True) (a tied lm_head.weight
left out of the file is filled from wte first), and prints:
  - the mean cross-entropy on `--batches` fixed batches of data/<dataset>/val.bin (evenly spaced
    offsets, so anyone can recompute them), in float32 and in float64;
  - normlab's own loss on the same batches (node dist/tools/eval_checkpoint.js; build first) with
    each backend of --backend (native: the C/OpenBLAS kernels, when built), and the difference,
    which should be float32 rounding (~1e-6);
  - normlab's reported val_loss for the checkpoint's iteration (log.jsonl), which used random
    batches, so it agrees only to sampling noise.
Exit status 1 when the two losses on the same batches differ by more than 1e-4.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def reference_cfg(config):
    """The metadata config as torch_reference takes it: flags it does not know are dropped (and named),
    a per-layer list given as one string ('relu gelu') is split."""
    known = {k: v for k, v in config.items() if k in ref.DEFAULTS}
    for k in ('norm_variant_attn_layerlist', 'activation_variant_layerlist'):
        if isinstance(known.get(k), str):
            known[k] = known[k].split()
    return ref.full_cfg(**known), sorted(set(config) - set(ref.DEFAULTS))


def build(path, dtype):
    tensors, meta = ref.load_safetensors(path)
    if 'config' not in meta:
        raise SystemExit(f'error: {path} has no `config` in its metadata: not a checkpoint normlab wrote')
    cfg, _ = reference_cfg(json.loads(meta['config']))
    torch.set_default_dtype(dtype)
    model = ref.GPT(cfg)
    sd = {k: v.to(dtype) for k, v in tensors.items()}
    if cfg['wte_weight_tying'] and 'lm_head.weight' not in sd:
        sd['lm_head.weight'] = sd['transformer.wte.weight']
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out_dir')
    ap.add_argument('--ckpt', default='ckpt.safetensors')
    ap.add_argument('--dataset', default=None)
    ap.add_argument('--data_dir', default=os.path.join(ROOT, 'data'))
    ap.add_argument('--batches', type=int, default=10)
    ap.add_argument('--batch_size', type=int, default=8)
    ap.add_argument('--backend', default='ts,native', help='comma-separated normlab backends to compare')
    ap.add_argument('--no-node', action='store_true')
    a = ap.parse_args()
    path = a.out_dir if a.out_dir.endswith('.safetensors') else os.path.join(a.out_dir, a.ckpt)
    if not os.path.isfile(path):
        raise SystemExit(f'error: no checkpoint at {path} (give a run folder holding {a.ckpt}, or a .safetensors file)')
    if a.out_dir.endswith('.safetensors'):
        a.out_dir = os.path.dirname(path) or '.'
    _, unknown = reference_cfg(json.loads(ref.load_safetensors(path)[1].get('config', '{}')))
    if unknown:
        print(f'note: flags the PyTorch reference does not model, left out: {", ".join(unknown)}')
    state_path = os.path.join(a.out_dir, 'state.json')
    state = json.load(open(state_path)) if os.path.exists(state_path) else {}
    dataset = a.dataset or state.get('config', {}).get('dataset') or ref.load_safetensors(path)[1].get('dataset', 'shakespeare_char')
    val = np.fromfile(os.path.join(a.data_dir, dataset, 'val.bin'), dtype='<u2').astype(np.int64)

    losses = {}
    for dtype in (torch.float32, torch.float64):
        model, cfg, meta = build(path, dtype)
        T, B = cfg['block_size'], a.batch_size
        n = a.batches * B
        offsets = [int(i * (len(val) - T - 1) // max(1, n - 1)) for i in range(n)]
        total = []
        with torch.no_grad():
            for b in range(a.batches):
                rows = offsets[b * B:(b + 1) * B]
                x = torch.tensor(np.stack([val[o:o + T] for o in rows]))
                y = torch.tensor(np.stack([val[o + 1:o + 1 + T] for o in rows]))
                _, loss = model(x, y)
                total.append(loss.item())
        losses[str(dtype)] = sum(total) / len(total)
    torch.set_default_dtype(torch.float32)
    it = int(meta.get('iter', -1))
    print(f'checkpoint {path}: iter {it}, {sum(p.numel() for p in model.parameters())} parameters, '
          f'norm {cfg["norm_variant_attn_layerlist"] or cfg["norm_variant_attn"]}/{cfg["norm_variant_output"]}, '
          f'activation {cfg["activation_variant_layerlist"] or cfg["activation_variant"]}')
    print(f'torch   float32 loss on {a.batches} fixed val batches of {B}x{T}: {losses["torch.float32"]:.6f}')
    print(f'torch   float64 loss on the same batches:                 {losses["torch.float64"]:.6f}')
    status = 0
    for be in ([] if a.no_node else a.backend.split(',')):
        js = os.path.join(ROOT, 'dist', 'tools', 'eval_checkpoint.js')
        r = subprocess.run(['node', js, path, os.path.join(a.data_dir, dataset, 'val.bin'), str(B), str(T),
                            ','.join(map(str, offsets)), be], capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            print(f'normlab ({be}) evaluation failed:', r.stderr.strip().splitlines()[-1:])
            status = 1
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        nl = res['loss']
        d = nl - losses['torch.float32']
        print(f'normlab float32 loss, {res["backend"]:6s} backend, same batches:   {nl:.6f}   (normlab - torch32 = {d:+.2e})')
        if abs(d) > 1e-4:
            status = 1
    log = os.path.join(a.out_dir, 'log.jsonl')
    if os.path.exists(log):
        evals = [json.loads(line) for line in open(log) if '"val_loss"' in line]
        at = [e for e in evals if e['iter'] == it] or evals[-1:]
        if at:
            print(f'normlab reported val_loss at iter {at[0]["iter"]} (random batches): {at[0]["val_loss"]:.6f}')
    return status


if __name__ == '__main__':
    sys.exit(main())
