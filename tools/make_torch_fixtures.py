"""Writes test/fixtures/torch/*.json from tools/torch_reference.py (PyTorch, float64).

Run: /usr/bin/python3 tools/make_torch_fixtures.py   (Debian python3-torch; no other packages)
     /usr/bin/python3 tools/make_torch_fixtures.py 'train_*.json'   only the files named (shell patterns)

Files (all numbers float64; inputs and parameters have at most 5 decimals so that JSON parsing
gives the same double on both sides; outputs and gradients keep 10 significant digits):
  norms.json        one case per norm variant and flag combination
  activations.json  one case per activation and flag combination (dact wraps each of them in norms.json)
  norms_float32.json  krmsnorm (every case), rmsnorm, layernorm again in float32 (torch's default)
  activations_float32.json  the activations with parameters (and a few more) in float32
  init.json         the state dict right after construction (names, shapes, float32 init values)
  train_<name>.json six AdamW steps (schedule, accumulation, clipping) from given parameters
  softmax.json      one case per attention softmax variant and flag combination (docs/softmax.md): scores
                    S (B=1, NH=2, T=5; masked entries stored as 0, never read), r, params, P, dS, dparams
  model_<name>.json a 2-layer GPT (C=16, 2 heads, vocab 11, B=2, T=6): parameters, batch, loss, grads
Each case: flags (overrides of the defaults), N, C, x, r, params, out, dx, dparams, where the
gradients are those of sum(out * r). kRMSNorm random selection stores `draws`: the index lists
drawn, in call order, which the TypeScript test replays through a fake Rng.
"""
import fnmatch
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


def q(t, d=4):
    """Inputs/parameters: rounded to d decimals (exactly the same double after JSON parsing)."""
    return torch.round(t * 10 ** d) / 10 ** d


def sig(v):
    return float('%.10g' % v)


def flat(t):
    if t.dtype == torch.float32:  # 9 significant digits identify a float32
        return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]
    return [sig(v) for v in t.detach().reshape(-1).tolist()]


def exact(t):
    if t.dtype == torch.float32:  # the shortest decimal that parses back to the same float32
        return [float(repr(np.float32(v))) for v in t.detach().reshape(-1).numpy()]
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def away_from(x, points, gap):
    """Push entries of x that are within gap of any point away from it (kinks, knots)."""
    for p in points:
        d = x - p
        near = d.abs() < gap
        x = torch.where(near, p + torch.where(d >= 0, gap, -gap) * 1.5, x)
    return x


def perturb_params(mod, g, scale=0.1):
    """Move every learned parameter off its init so that gradients see real values. Knot vectors get
    a small jitter that keeps them sorted."""
    with torch.no_grad():
        for name, p in mod.named_parameters():
            if name.endswith('x_vals'):
                gaps = (p[1:] - p[:-1]).min().item() if p.numel() > 1 else 1.0
                p.copy_(q(p + (torch.rand(p.shape, generator=g) - 0.5) * 0.4 * gaps))
            else:
                p.copy_(q(p + scale * torch.randn(p.shape, generator=g)))


def state(mod):
    return {k: {'shape': list(v.shape), 'data': exact(v)} for k, v in mod.state_dict().items()}


def run_case(mod, x, r):
    x = x.clone().requires_grad_(True)
    out = mod(x)
    (out * r).sum().backward()
    dparams = {k: flat(p.grad if p.grad is not None else torch.zeros_like(p)) for k, p in mod.named_parameters()}
    return out, x.grad, dparams


# ----------------------------------------------------------------------------------------------
def norm_cases():
    C = 16
    cases = []
    add = lambda name, flags, **kw: cases.append((name, flags, kw))  # noqa: E731
    add('layernorm', dict())
    add('layernorm', dict(bias=True))
    add('rmsnorm', dict())
    add('rmsnorm', dict(), zero_row=True)
    add('prmsnorm', dict())                               # k = ceil(16 * 0.0625) = 1
    add('prmsnorm', dict(prmsnorm_pct=0.25))              # k = 4
    add('prmsnorm', dict(prmsnorm_pct=0.3), C=10)         # 10 * 0.3 = 3.0000000000000004: k = 4 in float64
    add('prmsnorm', dict(prmsnorm_pct=0.001))             # clamped up to k = 1
    add('prmsnorm', dict(prmsnorm_pct=1.0))               # = rmsnorm
    for sel in ('first', 'last', 'random'):
        for qt in ('none', 'int8', 'int16'):
            add('krmsnorm', dict(krmsnorm_selection_type=sel, krmsnorm_quantize_type=qt))
    add('krmsnorm', dict(krmsnorm_enable_gain=False))
    add('krmsnorm', dict(krmsnorm_num=40))                               # k clamped to C
    add('krmsnorm', dict(krmsnorm_num=1, krmsnorm_quantize_type='int8'))  # max == min: v' = v
    add('krmsnorm', dict(krmsnorm_num=6, krmsnorm_selection_type='first', krmsnorm_quantize_type='int8'), ties='int8')
    add('krmsnorm', dict(krmsnorm_num=6, krmsnorm_selection_type='first', krmsnorm_quantize_type='int16'), ties='int16')
    add('krmsnorm', dict(krmsnorm_num=6, krmsnorm_selection_type='first', krmsnorm_quantize_type='none'), ties='half')
    add('krmsnorm', dict(krmsnorm_num=4, krmsnorm_selection_type='first', krmsnorm_quantize_type='int8'), zero_row=True)
    add('krmsnorm', dict(krmsnorm_recompute_percentage=0.2), mixed_rms=True)
    add('krmsnorm', dict(krmsnorm_recompute_percentage=0.2, krmsnorm_quantize_type='int8',
                         krmsnorm_selection_type='random', krmsnorm_enable_gain=False), mixed_rms=True)
    add('krmsnorm', dict(krmsnorm_recompute_percentage=0.0), mixed_rms=True)  # every token recomputed
    add('hyperspherenorm', dict())
    add('hyperspherenorm', dict(hsnorm_radius=2.5))
    add('hyperspherenorm', dict(hsnorm_radius_learning=True))
    add('hyperspherenorm', dict(hsnorm_radius=3.0, hsnorm_radius_learning=True, hsnorm_gain=True))
    add('hyperspherenorm', dict(hsnorm_gain=True))
    add('dact', dict())
    add('dact', dict(dact_use_gamma=False, dact_use_beta=False))
    add('dact', dict(dact_use_alpha=False, dact_alpha_init=0.5))
    add('dact', dict(dact_alpha_init=1.7))
    for act in ref.ACTIVATIONS:
        if act in ('glu', 'tanh'):
            continue
        extra = {'gelu_shifted': dict(shifted_gelu_initial_shift=0.3), 'piecewise': dict(pla_num_points=5),
                 'pfla': dict(pfla_num_points=6, pfla_left_bound=-3.0, pfla_right_bound=3.0),
                 'pfla_le': dict(pfla_num_points=6, pfla_left_bound=-3.0, pfla_right_bound=3.0),
                 'learned_spline': dict(lsa_num_knots=7)}.get(act, {})
        add('dact', dict(dact_activation=act, **extra), xrange=4.0)
    add('identity', dict())
    # degenerate rows: all zeros (row 1) and constant (row 3)
    for v, fl in (('layernorm', dict(bias=True)), ('prmsnorm', dict(prmsnorm_pct=0.25)),
                  ('hyperspherenorm', dict(hsnorm_gain=True, hsnorm_radius_learning=True)),
                  ('krmsnorm', dict(krmsnorm_recompute_percentage=0.1)),
                  ('krmsnorm', dict(krmsnorm_quantize_type='int16', krmsnorm_recompute_percentage=0.1)),
                  ('dact', dict())):
        add(v, fl, zero_row=True, const_row=True)
    return cases


def make_norms(g, only=None):
    out = []
    for variant, flags, kw in norm_cases():
        if only and variant not in only:
            continue
        C = kw.get('C', 16)
        N = 4
        cfg = ref.full_cfg(**flags)
        mod = ref.make_norm(variant, C, cfg)
        mod.eval()  # rrelu inside dact: evaluation slope
        perturb_params(mod, g)
        x = q((torch.rand(N, C, generator=g) * 2 - 1) * kw.get('xrange', 3.0))
        x = away_from(x, [0.0], 1e-3)
        if kw.get('zero_row'):
            x[1] = 0.0
        if kw.get('const_row'):
            x[3] = -0.75
        t = kw.get('ties')
        if t == 'int8':
            # scale = 1, zp = qmin: 2.5, 3.5, 100.5 land on exact .5 ties (round half to even: 2, 4, 100).
            x[0, :6] = torch.tensor([0.0, 255.0, 2.5, 3.5, 100.5, 7.25])
        if t == 'int16':
            # scale = 2^-12 exactly, zp = qmin: v * 4096 - 32768 is an exact .5 tie; the large one
            # (65532.5 -> 65532, even) moves the RMS by 1e-5 relative if rounded the other way.
            x[0, :6] = torch.tensor([0.0, 65535.0, 65532.5, 2.5, 1000.5, 1228.8]) / 4096
        if t in ('int8', 'int16'):
            x[2, :6] = torch.tensor([1.5, 1.5, 1.5, 1.5, 1.5, 1.5])  # max == min: unchanged
        if t == 'half':
            # ties between half-precision neighbours (to even), a subnormal, a value needing rounding
            x[0, :6] = torch.tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11, -(2 + 2 ** -10), 1e-6, 0.1, -3.3])
            x[2, :6] = torch.tensor([2 ** -20, 3 * 2 ** -25, 1024 + 0.5, 2049.0, -0.3333, 7.0])
        if kw.get('mixed_rms'):
            x[0] = torch.tensor([1.0, -1.0] * (C // 2)) * 1.1          # |x| equal: krms == rms
            x[2, -10:] = x[2, -10:] * 0.1                               # small selected: recompute
        r = q(torch.randn(N, C, generator=g))
        draws = []
        if isinstance(mod, ref.KRMSNorm) and mod.sel == 'random':
            mod.choose = lambda n, k: torch.randperm(n, generator=g)[:k]
        y, dx, dp = run_case(mod, x, r)
        if isinstance(mod, ref.KRMSNorm):
            draws = mod.draws
        case = dict(variant=variant, flags=flags, N=N, C=C, x=exact(x), r=exact(r),
                    params={k: exact(v) for k, v in mod.state_dict().items()},
                    out=flat(y), dx=flat(dx), dparams=dp)
        if draws:
            case['draws'] = draws
        if isinstance(mod, ref.KRMSNorm) and mod.last_recomputed is not None:
            case['recomputed'] = sum(mod.last_recomputed)
        out.append(case)
    return out


def act_cases():
    cases = []
    add = lambda name, flags, **kw: cases.append((name, flags, kw))  # noqa: E731
    for act in ref.ACTIVATIONS:
        add(act, dict())
    add('gelu_shifted', dict(shifted_gelu_initial_shift=-0.4))
    add('gelu_shifted', dict(shifted_gelu_learnable_shift=False, shifted_gelu_initial_shift=0.7))
    add('piecewise', dict(pla_num_points=4, pla_left_bound=-3.0, pla_right_bound=1.5))
    add('pfla', dict(pfla_num_points=8, pfla_left_bound=-4.0, pfla_right_bound=4.0), xrange=6.0)
    add('pfla', dict(), xrange=14.0)
    add('pfla_le', dict(pfla_num_points=5, pfla_left_bound=-2.5, pfla_right_bound=3.0), xrange=6.0)
    add('learned_spline', dict(lsa_num_knots=8))
    add('learned_spline', dict(lsa_num_knots=3))
    add('learned_spline', dict(lsa_num_knots=2))
    add('piecewise', dict(pla_num_points=1, pla_left_bound=-1.0, pla_right_bound=2.0), xrange=3.0)
    add('pfla', dict(pfla_num_points=2, pfla_left_bound=-2.0, pfla_right_bound=2.0), xrange=3.0)
    add('pfla_le', dict(pfla_num_points=2, pfla_left_bound=-2.0, pfla_right_bound=2.0), xrange=3.0)
    add('softplus', dict(), xrange=30.0)  # the x > 20 branch
    add('relu6', dict(), xrange=9.0)
    return cases


def make_acts(g, only=None):
    out = []
    for act, flags, kw in act_cases():
        if only and act not in only:
            continue
        cfg = ref.full_cfg(**flags)
        mod = ref.make_activation(act, cfg)
        mod.eval()  # rrelu: evaluation slope (the training draw is checked by property in the TS test)
        perturb_params(mod, g)
        N, H = 4, 12
        W = 2 * H if act == 'glu' else H
        x = q((torch.rand(N, W, generator=g) * 2 - 1) * kw.get('xrange', 7.0))
        kinks = [0.0, 6.0]
        for name, p in mod.named_parameters():
            if name == 'x_vals':
                kinks += p.tolist()
        if act in ('piecewise', 'pfla'):
            kinks.append(float(cfg['pla_right_bound' if act == 'piecewise' else 'pfla_right_bound']))
        if act == 'softplus':
            kinks.append(20.0)
        x = away_from(x, kinks, 2e-3)
        x = q(x)
        r = q(torch.randn(N, H, generator=g))
        y, dx, dp = run_case(mod, x, r)
        out.append(dict(variant=act, flags=flags, N=N, H=H, x=exact(x), r=exact(r),
                        params={k: exact(v) for k, v in mod.state_dict().items()},
                        out=flat(y), dx=flat(dx), dparams=dp))
    return out


def make_init():
    """Built in float32, PyTorch's default and the spec's working precision ("All math is float32"):
    init values such as x_vals = linspace(...) and y_vals = gelu(x_vals) are float32 numbers."""
    torch.set_default_dtype(torch.float32)
    try:
        return _make_init()
    finally:
        torch.set_default_dtype(torch.float64)


def _make_init():
    out = []
    C = 16
    for variant, flags, kw in norm_cases():
        Cn = kw.get('C', C)
        mod = ref.make_norm(variant, Cn, ref.full_cfg(**flags))
        out.append(dict(kind='norm', variant=variant, flags=flags, C=Cn, state=state(mod),
                        learned=sorted(k for k, _ in mod.named_parameters())))
    for act, flags, kw in act_cases():
        mod = ref.make_activation(act, ref.full_cfg(**flags))
        out.append(dict(kind='activation', variant=act, flags=flags, C=12, state=state(mod),
                        learned=sorted(k for k, _ in mod.named_parameters())))
    for variant, flags, _ in SOFTMAX_CASES:
        mod = ref.SoftmaxVariant(ref.full_cfg(softmax_variant_attn=variant, n_head=2, **flags))
        out.append(dict(kind='softmax', variant=variant, flags=flags, C=2, state=state(mod),
                        learned=sorted(k for k, _ in mod.named_parameters())))
    return out


# ----------------------------------------------------------------------------------------------
MODELS = {
    'default': dict(),
    'layernorm_bias': dict(norm_variant_attn='layernorm', norm_variant_output='layernorm', bias=True,
                           mlp_expansion_factor=2),
    'post': dict(use_pre_ln=False, use_post_ln=True, mlp_expansion_factor=2),
    'peri': dict(use_pre_ln=False, use_peri_ln=True, mlp_expansion_factor=2),
    'pre_post_peri': dict(use_post_ln=True, use_peri_ln=True, mlp_expansion_factor=2),
    'no_norms_untied': dict(use_pre_ln=False, norm_variant_output='identity', wte_weight_tying=False,
                            mlp_size=24, activation_variant='squared_relu'),
    'krmsnorm_int8_random': dict(norm_variant_attn='krmsnorm', norm_variant_output='krmsnorm',
                                 krmsnorm_quantize_type='int8', krmsnorm_selection_type='random',
                                 krmsnorm_num=6, krmsnorm_recompute_percentage=0.25, mlp_expansion_factor=2),
    'krmsnorm_half_peri': dict(norm_variant_attn='krmsnorm', use_peri_ln=True, krmsnorm_num=5,
                               mlp_expansion_factor=2, activation_variant='silu'),
    'pfla_hsnorm': dict(activation_variant='pfla', pfla_num_points=9, pfla_left_bound=-3.0, pfla_right_bound=3.0,
                        norm_variant_attn='hyperspherenorm', hsnorm_radius_learning=True, hsnorm_gain=True,
                        mlp_expansion_factor=2),
    'learned_spline_prmsnorm': dict(activation_variant='learned_spline', lsa_num_knots=8,
                                    norm_variant_attn='prmsnorm', prmsnorm_pct=0.25, mlp_expansion_factor=2),
    'glu_bias': dict(activation_variant='glu', bias=True, mlp_expansion_factor=2),
    'dact_prelu': dict(norm_variant_attn='dact', norm_variant_output='dact', dact_activation='prelu',
                       activation_variant='gelu_shifted', mlp_expansion_factor=2),
    'softmax_consmax_v2': dict(softmax_variant_attn='consmax_v2', consmax_initial_gamma=3.0, mlp_expansion_factor=2),
    'softmax_strongermax_obo': dict(softmax_variant_attn='strongermax', strongermax_use_learned_obo_per_head=True, strongermax_obo=1.0,
                                    strongermax_use_learned_temperature_factor=True, div_by_seq_len=True, mlp_expansion_factor=2),
    'softmax_pfla': dict(softmax_variant_attn='pfla_softmax', pfla_softmax_num_points=9, pfla_softmax_left_bound=-3.0,
                         pfla_softmax_right_bound=3.0, pfla_softmax_learn_x=True, mlp_expansion_factor=2),
    'softmax_squareplus': dict(softmax_variant_attn='squareplus', squareplus_divisor=0.5, div_by_seq_len=True, mlp_expansion_factor=2),
    # Quantization (docs/quantization.md). Chained quantizers (activation_input -> gelu -> activation_output,
    # q/k inputs -> scores -> softmax input) have a nonlinearity or a product with a float operand between
    # them, which moves entries off the first one's grid. A product of two quantized operands (a quantized
    # activation into a quantized_linear, as in quant_all_affine8) stays on a grid and can meet the next
    # quantizer on an exact tie: check_margins (below) refuses any fixture where a tie could decide a rounding.
    'quant_all_affine8': dict(quantize_mlp_act=True, quantize_attn_act=True, linear_variant_attn='quantized_linear',
                              linear_variant_mlp='quantized_linear', quantization_warmup_iters=0,
                              quantize_linear_attn_v_bits=4, quantize_linear_mlp_down_method='symmetric_quant',
                              quantize_wte=True, quantize_wpe=True, quantize_wpe_method='symmetric_quant',
                              quantize_wpe_bits=6, mlp_expansion_factor=2),
    'quant_ternary_static': dict(quantize_mlp_act=True, quantize_attn_act_softmax_input=True,
                                 quantize_attn_act_pv_mult_p_input=True, quantize_attn_act_softmax_input_bits=5,
                                 activations_quant_method='ternary_quant', quant_scheduler='static',
                                 start_quant_level=0.5, full_quant_iteration=10, use_pre_ln=False,
                                 mlp_expansion_factor=2, activation_variant='silu'),
    'quant_symmetric_post_untied': dict(quantize_mlp_act_input=True, quantize_attn_act_input=True,
                                        quantize_attn_act_output=True, quantize_mlp_act_input_bits=3,
                                        activations_quant_method='symmetric_quant', use_pre_ln=False,
                                        use_post_ln=True, wte_weight_tying=False, quantize_wte=True,
                                        quantize_wte_method='ternary_quant', mlp_expansion_factor=2),
}


def tiny_gpt(flags, g, seed):
    torch.manual_seed(seed)
    cfg = ref.full_cfg(vocab_size=11, n_layer=2, n_head=2, n_embd=16, block_size=8, **flags)
    model = ref.GPT(cfg)
    model.train()  # dropout is 0; krmsnorm draws at every call either way
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith('x_vals'):
                gaps = (p[1:] - p[:-1]).min().item()
                p.copy_(q(p + (torch.rand(p.shape, generator=g) - 0.5) * 0.4 * gaps))
            elif p.dim() >= 2 and 'softmax_layer_attn' not in pname:  # wider than init so that the nonlinearities see a range of inputs
                std = 0.5 if 'wte' in pname or 'wpe' in pname else 0.25
                p.copy_(q(std * torch.randn(p.shape, generator=g), 5))
            else:
                p.copy_(q(p + 0.1 * torch.randn(p.shape, generator=g)))
    return model, cfg


def make_model(name, flags, seed):
    with check_margins(f'model_{name}'):
        return make_model_pass(name, flags, seed)


def make_model_pass(name, flags, seed):
    g = torch.Generator().manual_seed(seed)
    model, cfg = tiny_gpt(flags, g, seed)
    tied = cfg['wte_weight_tying']
    draws = []

    def choose(n, k):
        idx = torch.randperm(n, generator=g)[:k]
        draws.append([int(i) for i in idx])
        return idx
    for m in model.krms_modules():
        m.choose = choose
    B, T = 2, 6
    idx = torch.randint(0, 11, (B, T), generator=g)
    targets = torch.randint(0, 11, (B, T), generator=g)
    _, loss = model(idx, targets)
    loss.backward()
    sd = model.state_dict()
    params = {k: {'shape': list(v.shape), 'data': exact(v)} for k, v in sd.items() if not (tied and k == 'lm_head.weight')}
    grads = {k: flat(p.grad) for k, p in model.named_parameters()}  # tied: lm_head is wte, listed once
    recomputed = None
    if any(m.p is not None for m in model.krms_modules()):
        recomputed = [sum(m.last_recomputed) for m in model.krms_modules()]
    return dict(name=name, flags=flags, config=cfg, B=B, T=T, idx=idx.reshape(-1).tolist(),
                targets=targets.reshape(-1).tolist(), params=params, loss=sig(loss.item()), grads=grads,
                draws=draws, recomputed_per_module=recomputed)


# Attention softmax variants: (variant, flags, score scale). Scores straddle the kinks of the
# piecewise ones (x0, x_sat, the clamps) at the chosen settings.
SOFTMAX_CASES = [
    ('softmax', dict(), 2), ('consmax', dict(), 2), ('consmax', dict(consmax_use_euler_base=False, consmax_base=2.0), 2),
    ('consmax_v2', dict(), 2), ('consmax_v2', dict(consmax_v2_clamping=True, consmax_v2_clamp_value=-2.3), 2),
    ('consmax_quan', dict(), 2),
    ('saturatingconsmax', dict(consmax_saturation=-1.7), 2),
    ('saturatingconsmax', dict(consmax_saturation=-1.7, consmax_learnable_beta=False, consmax_learnable_gamma=False, div_by_seq_len=True), 2),
    ('polymax', dict(polymax_x_intercept=-2.5), 2), ('polymax', dict(polymax_x_intercept=-2.5, polymax_power=1.5, div_by_seq_len=True), 2),
    ('vpolymax', dict(polymax_x_intercept=-2.5, polymax_power=3.0), 2),
    ('exppolymax', dict(), 2), ('exppolymax', dict(exppolymax_use_euler_base=False, exppolymax_base=4.0, exppolymax_power=2.5), 2),
    ('softermax', dict(), 2), ('softermax', dict(softermax_use_xmax=False), 2),
    ('strongermax', dict(), 2),
    ('strongermax', dict(strongermax_use_learned_obo_per_head=True, strongermax_obo=1.0, strongermax_use_learned_temperature_factor=True,
                         strongermax_temperature_factor=0.7), 2),
    ('strongermax', dict(strongermax_use_learned_obo=True, strongermax_obo=0.5, strongermax_xmax_guess=0.0, strongermax_clamping=True,
                         strongermax_clamp_value=1.1, strongermax_strength=2.0), 2),
    ('strongermax', dict(strongermax_overflow_recompute=True, strongermax_xmax_guess=0.0, strongermax_overflow_recompute_value=1.0,
                         strongermax_use_learned_temperature_factor=True), 2),
    ('strongermax', dict(strongermax_div_by_sum_of_terms=False, strongermax_divisor=3.0, div_by_seq_len=True,
                         strongermax_use_learned_temperature_factor=True), 2),
    ('sigsoftmax', dict(), 2), ('sigsoftmax', dict(sigsoftmax_use_euler_base=False, sigsoftmax_base=2.0), 2),
    ('relumax', dict(), 2), ('relu2max', dict(div_by_seq_len=True), 2), ('sigmoidmax', dict(), 2), ('softplus', dict(), 12),
    ('squareplus', dict(), 2),
    ('pfla_softmax', dict(pfla_softmax_num_points=7, pfla_softmax_left_bound=-4.0, pfla_softmax_right_bound=4.0), 2),
    ('pfla_softmax', dict(pfla_softmax_num_points=7, pfla_softmax_left_bound=-4.0, pfla_softmax_right_bound=4.0, pfla_softmax_learn_x=True,
                          pfla_softmax_mode='quadratic'), 2),
    ('pfla_softmax', dict(pfla_softmax_num_points=6, pfla_softmax_density='quad', pfla_softmax_use_learned_divisor=True,
                          pfla_softmax_learn_x=True), 2),
    ('pfla_softmax', dict(pfla_softmax_num_points=6, pfla_softmax_density='exp', pfla_softmax_use_obo=True, pfla_softmax_use_learned_obo=True,
                          pfla_softmax_obo=0.3, pfla_softmax_init_activation='silu'), 2),
]


def make_softmax(g):
    out = []
    B, NH, T = 1, 2, 5
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool)).expand(B, NH, T, T)
    for variant, flags, scale in SOFTMAX_CASES:
        cfg = ref.full_cfg(softmax_variant_attn=variant, n_head=NH, **flags)
        mod = ref.SoftmaxVariant(cfg)
        perturb_params(mod, g, 0.05)
        S = torch.where(mask, q(scale * torch.randn(B, NH, T, T, generator=g)), torch.zeros(B, NH, T, T))
        r = torch.where(mask, q(torch.randn(B, NH, T, T, generator=g)), torch.zeros(B, NH, T, T))
        Sg = S.clone().requires_grad_(True)
        P = mod(Sg, mask)
        (P * r).sum().backward()
        dparams = {k: flat(p.grad if p.grad is not None else torch.zeros_like(p)) for k, p in mod.named_parameters()}
        out.append(dict(variant=variant, flags=flags, NH=NH, T=T, S=exact(S), r=exact(r),
                        params={k: exact(v) for k, v in mod.state_dict().items()},
                        P=flat(P), dS=flat(Sg.grad), dparams=dparams))
    return out


TRAINS = {
    'default': dict(),
    'dact_pfla': dict(norm_variant_attn='dact', dact_activation='gelu_shifted', activation_variant='pfla',
                      pfla_num_points=7, pfla_left_bound=-3.0, pfla_right_bound=3.0,
                      norm_variant_output='hyperspherenorm', hsnorm_radius_learning=True, mlp_expansion_factor=2),
    'consmax': dict(softmax_variant_attn='consmax', consmax_initial_gamma=3.0, mlp_expansion_factor=2),
    'consmax_v2': dict(softmax_variant_attn='consmax_v2', consmax_initial_gamma=3.0, mlp_expansion_factor=2),
    # quantized_linear weights float for updates 0..2, quantized from update 3 (the warm-up boundary);
    # the linear scheduler's level 0.25, 0.4375, 0.625, 0.8125, 1, 1 over the six updates.
    # Chains: activation_output -> c_proj (quantized weight) -> output, and input -> c_fc -> activation_input.
    # At level 1 (updates 4, 5) a product of two quantized operands is an integer times s_x s_w, and the
    # next affine quantizer's x / scale = (2^b - 1) K / (K_max - K_min) lands exactly on a .5 tie for
    # some K; then the last bit of the sum (torch's order against normlab's) decides the rounding (a
    # 1.1e-4 loss difference was seen). --bias adds a float bias (quantized_linear keeps it float) after
    # each product, so the next quantizer's input is off that grid: check_margins asserts that no
    # rounding in this fixture is within QUANT_MARGIN of a tie, so float order cannot decide any.
    'quant_warmup_linear_sched': dict(quantize_mlp_act=True, quantize_attn_act_qk_mult_q_input=True,
                                      quantize_attn_act_pv_mult_p_input=True, linear_variant_mlp='quantized_linear',
                                      quantize_linear_bits=6, quantization_warmup_iters=3, quant_scheduler='linear',
                                      start_quant_level=0.25, full_quant_iteration=4, mlp_expansion_factor=2, bias=True),
}
TRAIN_CFG = dict(learning_rate=1e-2, min_lr=1e-3, decay_lr=True, warmup_iters=2, lr_decay_iters=5,
                 weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0, gradient_accumulation_steps=2, steps=6)


def lr_at(it, c):
    if not c['decay_lr']:
        return c['learning_rate']
    if it < c['warmup_iters']:  # nanoGPT's warm-up: the first update's rate is lr / (warmup + 1), not 0
        return c['learning_rate'] * (it + 1) / (c['warmup_iters'] + 1)
    if it > c['lr_decay_iters']:
        return c['min_lr']
    ratio = (it - c['warmup_iters']) / (c['lr_decay_iters'] - c['warmup_iters'])
    return c['min_lr'] + 0.5 * (1 + math.cos(math.pi * ratio)) * (c['learning_rate'] - c['min_lr'])


# Smallest distance of any x / scale from a rounding boundary (a half-integer) that a training fixture
# may have: far above what the order of a float64 sum moves (about 1e-15 relative), far below the grid.
QUANT_MARGIN = 1e-9


class check_margins:
    """While active, every deterministic quantizer call (tools/torch_reference.py quantize_tensor) is
    checked: each rounded x / scale (and an affine quantizer's min / scale, its zero point) must lie at
    least QUANT_MARGIN from a half-integer, so torch and normlab, summing in different orders, round
    it the same way. A fixture that fails this is an accident of ties, not a test: change its flags."""

    def __init__(self, name):
        self.name, self.orig = name, ref.quantize_tensor

    def __enter__(self):
        def checked(x, method, bits, causal=False, u=None):
            if method != 'stochastic_quant':
                self.check(x.detach(), method, bits, causal)
            return self.orig(x, method, bits, causal, u)
        ref.quantize_tensor = checked

    def __exit__(self, *exc):
        ref.quantize_tensor = self.orig

    def check(self, x, method, bits, causal):
        if causal:
            T = x.shape[-1]
            x = x[torch.tril(torch.ones(T, T, dtype=torch.bool)).expand_as(x)]
        x = x.reshape(-1)
        if x.numel() == 0:
            return
        half = 2 ** (bits - 1) - 1
        if method == 'symmetric_quant':
            scale, zp, lo, hi = x.abs().max() / half, 0.0, -half - 1, half
        elif method == 'affine_quant':
            scale = (x.max() - x.min()) / (2 ** bits - 1)
            zp, lo, hi = -torch.round(x.min() / scale).item() - half - 1, -half - 1, half
        else:  # ternary
            scale, zp, lo, hi = torch.clamp(x.abs().mean(), min=1e-5), 0.0, -1, 1
        if not scale.item() > 0:
            return
        t = x / scale
        # a tie between k and k + 1 decides nothing where the clamp maps both to the same level
        # (ternary's first softmax row: P = 1 over scale mean|P| is often exactly 3.5)
        k = torch.floor(t) + zp
        t = t[(k < hi) & (k + 1 > lo)]
        if method == 'affine_quant':  # the zero point's own rounding shifts every entry
            t = torch.cat([t, (x.min() / scale).reshape(1)])
        margin = ((t - torch.floor(t)) - 0.5).abs().min().item() if t.numel() else 0.5
        if margin < QUANT_MARGIN:
            raise SystemExit(f'{self.name}: a {bits}-bit {method} rounding is {margin:.3g} from a tie; change the fixture\'s flags')


def make_train(name, flags, seed):
    with check_margins(f'train_{name}'):
        return make_train_steps(name, flags, seed)


def make_train_steps(name, flags, seed):
    """Six AdamW updates as nanoGPT's loop does them: lr(it), gradients accumulated over 2
    micro-batches (each loss / 2), global-norm clipping, AdamW with weight decay on tensors of 2 or
    more dimensions only. Stores the losses and the parameters after the last update."""
    g = torch.Generator().manual_seed(seed)
    model, cfg = tiny_gpt(flags, g, seed)
    tc = TRAIN_CFG
    tied = cfg['wte_weight_tying']
    init = {k: {'shape': list(v.shape), 'data': exact(v)} for k, v in model.state_dict().items() if not (tied and k == 'lm_head.weight')}
    params = [p for _, p in model.named_parameters()]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': tc['weight_decay']},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=tc['learning_rate'], betas=(tc['beta1'], tc['beta2']), eps=1e-8)
    B, T, A = 2, 6, tc['gradient_accumulation_steps']
    batches, losses, lrs, norms = [], [], [], []
    for it in range(tc['steps']):
        model.iter_num = it
        lr = lr_at(it, tc)
        for group in opt.param_groups:
            group['lr'] = lr
        opt.zero_grad(set_to_none=False)
        total = 0.0
        for _ in range(A):
            idx = torch.randint(0, 11, (B, T), generator=g)
            tg = torch.randint(0, 11, (B, T), generator=g)
            batches.append([idx.reshape(-1).tolist(), tg.reshape(-1).tolist()])
            _, loss = model(idx, tg)
            (loss / A).backward()
            total += loss.item() / A
        norms.append(sig(torch.nn.utils.clip_grad_norm_(params, tc['grad_clip']).item()))
        opt.step()
        losses.append(sig(total))
        lrs.append(lr)
    # after the last update: per tensor the sum, the sum of squares and the first 24 values (size)
    final = {k: dict(sum=sig(v.sum().item()), sumsq=sig((v * v).sum().item()), head=flat(v.reshape(-1)[:24]))
             for k, v in model.state_dict().items() if not (tied and k == 'lm_head.weight')}
    return dict(name=name, flags=flags, config=cfg, train=tc, B=B, T=T, params=init, batches=batches,
                losses=losses, lrs=lrs, grad_norms=norms, final=final)


def make_quant_float32(g):
    """The quantizers alone in float32 (torch's default dtype): every method at 2, 3, 4, 8 and 16 bits,
    whole tensors and causal T x T blocks with -inf above the diagonal, stochastic with given draws
    and exact ties (multiples of scale / 2) included. normlab's kernels must give the same float32 bits."""
    cases = []
    for method in ('symmetric_quant', 'affine_quant', 'stochastic_quant', 'ternary_quant'):
        for bits in (2, 3, 4, 8, 16):
            for causal in (False, True):
                T = 5
                x = torch.randn(2, 3, T, T, generator=g, dtype=torch.float32) * 2
                if causal:
                    x = x.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float('-inf'))
                else:  # exact half-steps of a grid: ties that Math.round would send up
                    x = torch.cat([x.reshape(-1), torch.tensor([-2.5, -0.5, 0.5, 1.5, 2.5, 0.0], dtype=torch.float32)])
                u = torch.rand(x.shape, generator=g, dtype=torch.float32)
                out = ref.quantize_tensor(x, method, bits, causal, u)
                ninf = lambda t: [None if v == float('-inf') else v for v in exact(t.reshape(-1))]  # JSON: null is -inf
                cases.append(dict(method=method, bits=bits, T=T if causal else 0, x=ninf(x), u=exact(u.reshape(-1)), out=ninf(out)))
    return cases


def dump(name, obj):
    """Writes test/fixtures/torch/<name> if the command line selects it (see main); returns its size."""
    if SELECT and not any(fnmatch.fnmatch(name, pat) for pat in SELECT):
        return 0
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    return os.path.getsize(path)


# File names (shell patterns, e.g. 'train_*.json') to write; none: every file, old ones removed first.
# Every case is still computed in the same order, so the shared generators draw the same numbers and a
# selected file comes out as a full run would make it, while the files not selected stay as they are.
SELECT = []


def main():
    SELECT.extend(sys.argv[1:])
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT) if not SELECT else []:
        if f.endswith('.json'):
            os.remove(os.path.join(OUT, f))
    g = torch.Generator().manual_seed(20261126)
    total = 0
    total += dump('norms.json', make_norms(g))
    total += dump('activations.json', make_acts(g))
    total += dump('init.json', make_init())
    total += dump('softmax.json', make_softmax(torch.Generator().manual_seed(28)))
    # float32, the spec's working precision: kRMSNorm's rounding decisions (int8/int16 grid, half
    # precision) must be the same as torch's float32 ops, not merely close
    torch.set_default_dtype(torch.float32)
    total += dump('norms_float32.json', make_norms(torch.Generator().manual_seed(7), only={'krmsnorm', 'rmsnorm', 'layernorm'}))
    total += dump('activations_float32.json', make_acts(torch.Generator().manual_seed(8), only={
        'gelu_shifted', 'glu', 'learned_spline', 'piecewise', 'pfla', 'pfla_le', 'prelu', 'mish', 'selu', 'gelu', 'relu'}))
    total += dump('quant_float32.json', make_quant_float32(torch.Generator().manual_seed(9)))
    torch.set_default_dtype(torch.float64)
    for i, (name, flags) in enumerate(MODELS.items()):
        total += dump(f'model_{name}.json', make_model(name, flags, 1000 + i))
    for i, (name, flags) in enumerate(TRAINS.items()):
        total += dump(f'train_{name}.json', make_train(name, flags, 2000 + i))
    print(f'wrote {OUT}: {total} bytes')


if __name__ == '__main__':
    main()
