"""An independent PyTorch implementation of the math in docs/variants.md (norms, activations, GPT).

Written from the variants' specification (restated in docs/variants.md) and the user's flag list only, never from normlab's
TypeScript, so that the fixtures it produces (tools/make_torch_fixtures.py) and the checkpoint
check (tools/check_checkpoint.py) are a second opinion, not a copy. Runs under Debian's
python3-torch (/usr/bin/python3, torch 1.13); no other packages.

Every module takes a `cfg` dict with the flag names of src/config/flags.ts (defaults: DEFAULTS).
State-dict names are those of the spec: `gain`, `weight`, `bias`, `radius`, `alpha`, `beta`, `gamma`,
`shift`, `x_vals`, `y_vals`, `activation.weight` (prelu), `activation.*` (dact's inner activation),
and the GPT layout `transformer.h.{i}.{pre_ln_attn,attn.c_attn_q,...}`.

kRMSNorm random selection: the module calls `self.choose(C, k)` (default: torch.randperm) and records
every draw in `self.draws` so that a fixture can replay the same indices on the TypeScript side.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS_LN = 1e-5
EPS_RMS = 1e-6

DEFAULTS = dict(
    vocab_size=11, n_layer=2, n_head=2, n_embd=16, block_size=6, dropout=0.0, bias=False,
    mlp_expansion_factor=4, mlp_size=None, wte_weight_tying=True,
    norm_variant_attn='rmsnorm', norm_variant_output='rmsnorm',
    norm_variant_attn_layerlist=None, activation_variant_layerlist=None,
    use_pre_ln=True, use_post_ln=False, use_peri_ln=False,
    prmsnorm_pct=0.0625, krmsnorm_num=10, krmsnorm_quantize_type='none', krmsnorm_enable_gain=True,
    krmsnorm_selection_type='last', krmsnorm_recompute_percentage=None,
    hsnorm_gain=False, hsnorm_radius=None, hsnorm_radius_learning=False,
    dact_activation='tanh', dact_use_gamma=True, dact_use_beta=True, dact_alpha_init=1.0, dact_use_alpha=True,
    activation_variant='gelu', shifted_gelu_learnable_shift=True, shifted_gelu_initial_shift=0.0,
    pla_num_points=7, pla_left_bound=-2.0, pla_right_bound=2.0,
    pfla_num_points=50, pfla_left_bound=-10.0, pfla_right_bound=10.0, lsa_num_knots=30,
    # attention softmax variants (docs/softmax.md): the framework's command-line defaults
    softmax_variant_attn='softmax', consmax_initial_beta=2.5, consmax_initial_gamma=100.0, consmax_use_euler_base=True,
    consmax_base=2.0, consmax_per_head=True, consmax_v2_clamping=False, consmax_v2_clamp_value=80.0,
    consmax_saturation=11.0, consmax_learnable_beta=True, consmax_learnable_gamma=True,
    polymax_x_intercept=-100.0, polymax_y_intercept=1.0, polymax_power=2.0, polymax_divisor=1000.0,
    relumax_divisor=256.0, relu2max_divisor=256.0, sigmoidmax_divisor=256.0,
    sigsoftmax_use_euler_base=True, sigsoftmax_base=2.0,
    strongermax_strength=math.e, strongermax_div_by_sum_of_terms=True, strongermax_divisor=1.0,
    strongermax_use_xmax=True, strongermax_xmax_guess=None, strongermax_overflow_recompute=False,
    strongermax_overflow_recompute_value=88.0, strongermax_clamping=False, strongermax_clamp_value=88.0,
    strongermax_obo=0.0, strongermax_use_learned_obo=False, strongermax_use_learned_obo_per_head=False,
    strongermax_temperature_factor=1.0, strongermax_use_learned_temperature_factor=False,
    exppolymax_use_euler_base=True, exppolymax_base=4.0, exppolymax_y_intercept=1.0, exppolymax_power=2.0,
    exppolymax_divisor=1000.0, softermax_use_xmax=True, softplus_divisor=100.0, squareplus_divisor=100.0,
    div_by_seq_len=False, pfla_softmax_num_points=30, pfla_softmax_left_bound=-10.0, pfla_softmax_right_bound=10.0,
    pfla_softmax_learn_x=False, pfla_softmax_learn_y=True, pfla_softmax_init_activation='gelu',
    pfla_softmax_density='linear', pfla_softmax_use_learned_divisor=False, pfla_softmax_gamma_init=1.0,
    pfla_softmax_use_obo=False, pfla_softmax_use_learned_obo=False, pfla_softmax_obo=0.0, pfla_softmax_mode='linear',
)
# Quantization (docs/quantization.md): the reference framework's flags and defaults.
MLP_POINTS = ['input', 'activation_input', 'activation_output', 'output']
ATTN_POINTS = ['input', 'qk_mult_q_input', 'qk_mult_k_input', 'softmax_input', 'pv_mult_p_input',
               'pv_mult_v_input', 'pv_mult_output', 'output']
LINEARS = [('attn_q', 'q', 'attn'), ('attn_k', 'k', 'attn'), ('attn_v', 'v', 'attn'), ('attn_proj', 'attn_proj', 'attn'),
           ('mlp_up', 'mlp_up', 'mlp'), ('mlp_down', 'mlp_down', 'mlp')]
DEFAULTS.update(activations_quant_method='affine_quant', quantize_mlp_act=False, quantize_mlp_act_bits=8,
                quantize_attn_act=False, quantize_attn_act_bits=8,
                linear_variant_attn='linear', linear_variant_mlp='linear', quantize_linear_method='affine_quant',
                quantize_linear_bits=8, quantization_warmup_iters=100,
                quantize_wte=None, quantize_wte_method='affine_quant', quantize_wte_bits=8,
                quantize_wpe=None, quantize_wpe_method='affine_quant', quantize_wpe_bits=8,
                quant_scheduler=None, start_quant_level=0.0, full_quant_iteration=None)
for _g, _pts in (('mlp', MLP_POINTS), ('attn', ATTN_POINTS)):
    for _p in _pts:
        DEFAULTS[f'quantize_{_g}_act_{_p}'] = False
        DEFAULTS[f'quantize_{_g}_act_{_p}_bits'] = None
for _k, _v, _g in LINEARS:
    DEFAULTS[f'linear_variant_{_v}'] = None
    DEFAULTS[f'quantize_linear_{_k}_method'] = None
    DEFAULTS[f'quantize_linear_{_k}_bits'] = None


def full_cfg(**over):
    unknown = set(over) - set(DEFAULTS)
    if unknown:
        raise KeyError(f'unknown flags {sorted(unknown)}')
    c = dict(DEFAULTS)
    c.update(over)
    return c


# ----------------------------------------------------------------------------------------------
# safetensors without the safetensors package: 8-byte LE header length, JSON header, raw data.
_DT = {'F32': (torch.float32, 4), 'F64': (torch.float64, 8), 'F16': (torch.float16, 2),
       'I64': (torch.int64, 8), 'I32': (torch.int32, 4)}


def load_safetensors(path):
    """-> (dict name -> tensor, metadata dict). Checks what the safetensors library's validation
    checks: the header starts with '{', metadata values are strings, the tensors' byte ranges tile
    the data section exactly (contiguous, in order, nothing left over) and fit their shapes."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw) or raw[8:9] != b'{':
        raise ValueError(f'{path}: bad header (length {n}, file {len(raw)} bytes)')
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {}) or {}
    if not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f'{path}: __metadata__ values must be strings')
    base = 8 + n
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets']):
        a, b = info['data_offsets']
        numel = 1
        for d in info['shape']:
            numel *= d
        if a != end or b - a != numel * _DT[info['dtype']][1]:
            raise ValueError(f'{path}: tensor {name} has data_offsets {a}..{b}, expected {end}..{end + numel * _DT[info["dtype"]][1]}')
        end = b
    if base + end != len(raw):
        raise ValueError(f'{path}: data section is {len(raw) - base} bytes, tensors cover {end}')
    out = {}
    for name, info in header.items():
        dtype, size = _DT[info['dtype']]
        a, b = info['data_offsets']
        t = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=dtype) if b > a else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(info['shape']).clone()
    return out, meta


def save_safetensors(path, tensors, metadata=None):
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    rev = {v[0]: k for k, v in _DT.items()}
    for name in names:
        t = tensors[name].detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {'dtype': rev[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


# ----------------------------------------------------------------------------------------------
# Activations. Each is an nn.Module mapping (..., H) -> (..., H) (glu: (..., 2H) -> (..., H)).

def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class Fn(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


class GeluShifted(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        s = torch.tensor(float(cfg['shifted_gelu_initial_shift']))  # shape []
        if cfg['shifted_gelu_learnable_shift']:
            self.shift = nn.Parameter(s)
        else:
            self.register_buffer('shift', s)  # "in the checkpoint either way"

    def forward(self, x):
        return gelu_exact(x - self.shift)


class PReLUAct(nn.Module):
    """Parameter `activation.weight` [1], init 0.25 (a wrapped nn.PReLU, as the spec's name says)."""

    def __init__(self, cfg):
        super().__init__()
        self.activation = nn.PReLU(num_parameters=1, init=0.25)

    def forward(self, x):
        w = self.activation.weight
        return torch.where(x >= 0, x, w * x)


class RReLU(nn.Module):
    LO, HI = 1.0 / 8.0, 1.0 / 3.0

    def __init__(self, cfg):
        super().__init__()

    def forward(self, x):
        if self.training:
            a = torch.empty_like(x).uniform_(self.LO, self.HI)
        else:
            a = torch.full_like(x, (self.LO + self.HI) / 2)
        return torch.where(x >= 0, x, a * x)


def _interior_linspace(L, R, n):
    return torch.linspace(L, R, n + 2, dtype=torch.float64)[1:-1].to(torch.get_default_dtype())


class Piecewise(nn.Module):
    """piecewise / pfla: 0 left of x_vals[0]; chords between points; the line to (R, R); x right of R."""

    def __init__(self, cfg, prefix):
        super().__init__()
        n, L, R = cfg[prefix + '_num_points'], cfg[prefix + '_left_bound'], cfg[prefix + '_right_bound']
        xv = _interior_linspace(L, R, n)
        self.R = float(R)
        self.x_vals = nn.Parameter(xv.clone())
        self.y_vals = nn.Parameter(gelu_exact(xv.clone()))

    def forward(self, x):
        xv, yv, R = self.x_vals, self.y_vals, self.R
        n = xv.shape[0]
        out = torch.zeros_like(x)
        for i in range(n - 1):
            m = (x >= xv[i]) & (x < xv[i + 1])
            line = yv[i] + (yv[i + 1] - yv[i]) * (x - xv[i]) / (xv[i + 1] - xv[i])
            out = torch.where(m, line, out)
        m = (x >= xv[n - 1]) & (x < R)
        line = yv[n - 1] + (R - yv[n - 1]) * (x - xv[n - 1]) / (R - xv[n - 1])
        out = torch.where(m, line, out)
        out = torch.where(x >= R, x, out)
        return out


class PiecewiseLE(nn.Module):
    """pfla_le: y_vals[0] left of x_vals[0] (with gradient); chords; last chord extended right."""

    def __init__(self, cfg):
        super().__init__()
        n, L, R = cfg['pfla_num_points'], cfg['pfla_left_bound'], cfg['pfla_right_bound']
        xv = _interior_linspace(L, R, n)
        self.x_vals = nn.Parameter(xv.clone())
        self.y_vals = nn.Parameter(gelu_exact(xv.clone()))

    def forward(self, x):
        xv, yv = self.x_vals, self.y_vals
        n = xv.shape[0]
        out = yv[0] * torch.ones_like(x)
        for i in range(n - 1):
            lo = x >= xv[i]
            m = lo & (x < xv[i + 1]) if i < n - 2 else lo  # last chord extends to +inf
            line = yv[i] + (yv[i + 1] - yv[i]) * (x - xv[i]) / (xv[i + 1] - xv[i])
            out = torch.where(m, line, out)
        return out


class LearnedSpline(nn.Module):
    """Natural cubic spline through (x_vals, y_vals); second derivatives from a dense linear solve
    (autograd carries gradients to x_vals and y_vals through it); end cubics extended outside."""

    def __init__(self, cfg):
        super().__init__()
        n = cfg['lsa_num_knots']
        xv = torch.linspace(-5.0, 5.0, n, dtype=torch.float64).to(torch.get_default_dtype())
        self.x_vals = nn.Parameter(xv.clone())
        self.y_vals = nn.Parameter(gelu_exact(xv.clone()))

    def second_derivatives(self):
        xv, yv = self.x_vals, self.y_vals
        n = xv.shape[0]
        h = xv[1:] - xv[:-1]  # (n-1)
        if n == 2:
            return torch.zeros_like(xv)
        slope = (yv[1:] - yv[:-1]) / h  # (n-1)
        rhs = 6.0 * (slope[1:] - slope[:-1])  # (n-2), rows i = 1..n-2
        m = n - 2
        rows = []
        for r in range(m):  # unknowns M_1..M_{n-2}; row r is knot i = r + 1
            i = r + 1
            parts = []
            for c in range(m):
                j = c + 1
                if j == i - 1:
                    parts.append(h[i - 1])
                elif j == i:
                    parts.append(2.0 * (h[i - 1] + h[i]))
                elif j == i + 1:
                    parts.append(h[i])
                else:
                    parts.append(torch.zeros((), dtype=xv.dtype))
            rows.append(torch.stack(parts))
        A = torch.stack(rows)
        Min = torch.linalg.solve(A, rhs.unsqueeze(-1)).squeeze(-1)
        z = torch.zeros(1, dtype=xv.dtype)
        return torch.cat([z, Min, z])

    def forward(self, x):
        xv, yv = self.x_vals, self.y_vals
        n = xv.shape[0]
        M = self.second_derivatives()
        idx = torch.clamp(torch.searchsorted(xv.detach().contiguous(), x.detach().contiguous()) - 1, 0, n - 2)
        x0, x1 = xv[idx], xv[idx + 1]
        y0, y1 = yv[idx], yv[idx + 1]
        M0, M1 = M[idx], M[idx + 1]
        h = x1 - x0
        t = x - x0
        b = (y1 - y0) / h - h * (2.0 * M0 + M1) / 6.0
        return y0 + b * t + M0 / 2.0 * t * t + (M1 - M0) / (6.0 * h) * t * t * t


class GLU(nn.Module):
    def __init__(self, cfg):
        super().__init__()

    def forward(self, x):
        H = x.shape[-1] // 2
        return x[..., :H] * torch.sigmoid(x[..., H:])


def make_activation(name, cfg):
    simple = {
        'celu': lambda x: torch.clamp(x, min=0) + torch.clamp(torch.exp(x) - 1, max=0),
        'elu': lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
        'gelu': gelu_exact,
        'leaky_relu': lambda x: torch.where(x >= 0, x, 0.01 * x),
        'mish': lambda x: x * torch.tanh(F.softplus(x)),
        'relu': lambda x: torch.clamp(x, min=0),
        'relu6': lambda x: torch.clamp(torch.clamp(x, min=0), max=6),
        'selu': lambda x: 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1)),
        'sigmoid': torch.sigmoid,
        'silu': lambda x: x * torch.sigmoid(x),
        'tanh': torch.tanh,
        'identity': lambda x: x,
        'softplus': lambda x: torch.where(x > 20, x, torch.log1p(torch.exp(torch.clamp(x, max=20)))),
        'softsign': lambda x: x / (1 + torch.abs(x)),
        'squared_relu': lambda x: torch.clamp(x, min=0) ** 2,
    }
    if name in simple:
        return Fn(simple[name])
    if name == 'gelu_shifted':
        return GeluShifted(cfg)
    if name == 'glu':
        return GLU(cfg)
    if name == 'prelu':
        return PReLUAct(cfg)
    if name == 'rrelu':
        return RReLU(cfg)
    if name == 'piecewise':
        return Piecewise(cfg, 'pla')
    if name == 'pfla':
        return Piecewise(cfg, 'pfla')
    if name == 'pfla_le':
        return PiecewiseLE(cfg)
    if name == 'learned_spline':
        return LearnedSpline(cfg)
    raise KeyError(f'unknown activation {name}')


ACTIVATIONS = ['celu', 'elu', 'gelu', 'gelu_shifted', 'glu', 'leaky_relu', 'learned_spline', 'mish',
               'piecewise', 'pfla', 'pfla_le', 'prelu', 'relu', 'relu6', 'rrelu', 'selu', 'sigmoid',
               'silu', 'softplus', 'softsign', 'squared_relu', 'tanh', 'identity']

# ----------------------------------------------------------------------------------------------
# Norms. Each maps (..., C) -> (..., C) over the last axis.


class LayerNorm(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C)) if cfg['bias'] else None

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased
        y = (x - mu) / torch.sqrt(var + EPS_LN) * self.weight
        return y + self.bias if self.bias is not None else y


class RMSNorm(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS_RMS) * self.gain


class PRMSNorm(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        self.k = min(C, max(1, math.ceil(C * cfg['prmsnorm_pct'])))  # python float math, as a reference would
        self.gain = nn.Parameter(torch.ones(C))

    def forward(self, x):
        v = x[..., :self.k]
        return x / torch.sqrt((v * v).mean(-1, keepdim=True) + EPS_RMS) * self.gain


def round_half(v):
    """v rounded to IEEE half precision (ties to even). Converting float64 -> float16 in torch 1.13
    goes through float32 (double rounding); the fixtures keep values where that cannot matter, but we
    do the single rounding here by hand to be safe: frexp gives the exponent, the spacing follows."""
    a = v.abs()
    m, e = torch.frexp(a)  # a = m * 2^e, m in [0.5, 1)
    e = e - 1  # a in [2^e, 2^(e+1))
    ulp = torch.pow(torch.tensor(2.0, dtype=v.dtype), (torch.clamp(e, min=-14) - 10).to(v.dtype))
    r = torch.round(a / ulp) * ulp
    r = torch.where(r > 65504, torch.full_like(r, float('inf')), r)
    return torch.where(a == 0, v, torch.copysign(r, v))


def fake_quant(v, qtype):
    """Per row (last axis) fake quantization of the selected values; no gradient (straight-through
    is applied by the caller)."""
    with torch.no_grad():
        if qtype == 'none':
            return round_half(v)
        qmin, qmax = {'int8': (-128, 127), 'int16': (-32768, 32767)}[qtype]
        mn = v.min(-1, keepdim=True).values
        mx = v.max(-1, keepdim=True).values
        same = mx == mn
        scale = torch.where(same, torch.ones_like(mx), (mx - mn) / (qmax - qmin))
        zp = qmin - mn / scale
        q = torch.clamp(torch.round(v / scale + zp), qmin, qmax)
        vq = (q - zp) * scale
        return torch.where(same, v, vq)


class KRMSNorm(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        self.C = C
        self.k = min(C, cfg['krmsnorm_num'])
        self.qtype = cfg['krmsnorm_quantize_type']
        self.sel = cfg['krmsnorm_selection_type']
        self.p = cfg['krmsnorm_recompute_percentage']
        self.gain = nn.Parameter(torch.ones(C)) if cfg['krmsnorm_enable_gain'] else None
        self.draws = []  # every random selection, in call order
        self.choose = lambda n, k: torch.randperm(n)[:k]
        self.last_recomputed = None

    def forward(self, x):
        C, k = self.C, self.k
        if self.sel == 'first':
            idx = torch.arange(0, k)
        elif self.sel == 'last':
            idx = torch.arange(C - k, C)
        else:
            idx = torch.as_tensor(self.choose(C, k), dtype=torch.long)
            self.draws.append([int(i) for i in idx])
        v = x[..., idx]
        vq = v + (fake_quant(v, self.qtype) - v).detach()  # straight-through: dv'/dv = 1
        krms = torch.sqrt((vq * vq).mean(-1, keepdim=True) + EPS_RMS)
        if self.p is None:
            r = krms
        else:
            rms = torch.sqrt((x * x).mean(-1, keepdim=True) + EPS_RMS)
            keep = (rms * (1 - self.p) < krms) & (krms < rms * (1 + self.p))
            r = torch.where(keep, krms, rms)
            self.last_recomputed = (~keep).reshape(-1).tolist()
        y = x / r
        return y * self.gain if self.gain is not None else y


class HyperSphereNorm(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        r0 = cfg['hsnorm_radius'] if cfg['hsnorm_radius'] is not None else math.sqrt(C)
        if cfg['hsnorm_radius_learning']:
            self.radius = nn.Parameter(torch.tensor([float(r0)]))
        else:
            self.radius_const = float(r0)  # a constant, not in the state dict
            self.radius = None
        self.gain = nn.Parameter(torch.ones(C)) if cfg['hsnorm_gain'] else None

    def forward(self, x):
        y = x / torch.sqrt((x * x).sum(-1, keepdim=True) + EPS_RMS)
        y = y * (self.radius if self.radius is not None else self.radius_const)
        return y * self.gain if self.gain is not None else y


class DAct(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()
        inner = cfg['dact_activation']
        if inner == 'glu':
            raise ValueError('dact cannot wrap glu')
        self.activation = make_activation(inner, cfg)
        a0 = float(cfg['dact_alpha_init'])
        self.alpha = nn.Parameter(torch.tensor([a0])) if cfg['dact_use_alpha'] else None
        self.alpha_const = a0
        self.beta = nn.Parameter(torch.zeros(C)) if cfg['dact_use_beta'] else None
        self.gamma = nn.Parameter(torch.ones(C)) if cfg['dact_use_gamma'] else None

    def forward(self, x):
        a = self.alpha if self.alpha is not None else self.alpha_const
        y = self.activation(a * x)
        if self.gamma is not None:
            y = self.gamma * y
        if self.beta is not None:
            y = y + self.beta
        return y


class Identity(nn.Module):
    def __init__(self, C, cfg):
        super().__init__()

    def forward(self, x):
        return x


NORMS = {'layernorm': LayerNorm, 'rmsnorm': RMSNorm, 'prmsnorm': PRMSNorm, 'krmsnorm': KRMSNorm,
         'hyperspherenorm': HyperSphereNorm, 'dact': DAct, 'identity': Identity}


def make_norm(name, C, cfg):
    return NORMS[name](C, cfg)


# ----------------------------------------------------------------------------------------------
# Fake quantization (docs/quantization.md), written from the rules stated there:
#   symmetric  scale = max|x| / (2^(b-1) - 1), q = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1), x' = q scale
#   affine     scale = (max - min) / (2^b - 1), zp = -round(min / scale) - 2^(b-1),
#              q = clamp(round(x / scale) + zp, -2^(b-1), 2^(b-1) - 1), x' = (q - zp) scale
#   stochastic l = |x| / max|x| (2^b - 1), magnitude floor(l) + [u < frac(l)], x' = sign(x) magnitude max|x| / (2^b - 1)
#   ternary    scale = max(mean|x|, 1e-5) (mean summed in float64), q = clamp(round(x / scale), -1, 1)
# torch.round is round-half-to-even. Statistics over the whole tensor, or (causal=True, the last two
# dimensions T x T) over the lower triangle only; other entries are returned unchanged. Scale 0 (or
# not finite): the tensor passes unchanged.

def quantize_tensor(x, method, bits, causal=False, u=None):
    x = x.detach()
    if causal:
        T = x.shape[-1]
        sel = torch.tril(torch.ones(T, T, dtype=torch.bool)).expand_as(x)
        vals = x[sel]
    else:
        sel = None
        vals = x.reshape(-1)
    if vals.numel() == 0:
        return x
    half = 2 ** (bits - 1) - 1
    levels = 2 ** bits - 1
    if method == 'symmetric_quant':
        scale = vals.abs().max() / half
        zp = torch.zeros((), dtype=x.dtype)
        lo, hi = -half - 1, half
    elif method == 'affine_quant':
        scale = (vals.max() - vals.min()) / levels
        zp = -torch.round(vals.min() / scale) + (-half - 1)
        lo, hi = -half - 1, half
    elif method == 'stochastic_quant':
        amax = vals.abs().max()
        scale = amax / levels
    elif method == 'ternary_quant':
        scale = torch.clamp((vals.double().abs().sum() / vals.numel()).to(x.dtype), min=1e-5)
        zp = torch.zeros((), dtype=x.dtype)
        lo, hi = -1, 1
    else:
        raise ValueError(method)
    if not (scale.item() > 0 and math.isfinite(scale.item())):
        return x
    if method == 'stochastic_quant':
        l = x.abs() / amax * levels
        fl = torch.trunc(l)
        prob = torch.clamp(l - fl, 0.0, 1.0)
        out = torch.sign(x) * (fl + (u < prob).to(x.dtype)) * scale
    else:
        q = torch.clamp(torch.round(x / scale) + zp, lo, hi)
        out = (q - zp) * scale
    if sel is not None:
        out = torch.where(sel, out, x)
    return out


def quant_level(cfg, training, iter_num):
    """None without a scheduler; else the level: 1 in evaluation, start (static), or
    start + (1 - start) iter / full capped at 1 (linear; the reference's formula corrected)."""
    s = cfg['quant_scheduler']
    if s is None:
        return None
    if not training:
        return 1.0
    if s == 'static':
        return cfg['start_quant_level']
    st = cfg['start_quant_level']
    return min(1.0, st + (1 - st) * iter_num / cfg['full_quant_iteration'])


class _Straight(torch.autograd.Function):
    """Forward: the quantized tensor; backward: the gradient unchanged (straight through)."""

    @staticmethod
    def forward(ctx, x, xq):
        return xq.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def ste(x, xq, level):
    """Forward xq (or x + level (xq - x), entries that are masked (-inf) left as they are), gradient
    straight through to x unchanged."""
    if level is None:
        return _Straight.apply(x, xq.detach())
    d = (xq - x).detach()
    d = torch.where(torch.isinf(x), torch.zeros_like(d), d)
    return x + level * d


class Quant:
    """The quantization of one model: which points, methods and bits (resolved from cfg), and the
    iteration and mode of the forward in progress (set by the GPT)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.training = True
        self.iter_num = 0

    def point(self, g, p):
        c = self.cfg
        if not (c[f'quantize_{g}_act'] or c[f'quantize_{g}_act_{p}']):
            return None
        bits = c[f'quantize_{g}_act_{p}_bits']
        return c['activations_quant_method'], bits if bits is not None else c[f'quantize_{g}_act_bits']

    def linear(self, key, variant, g):
        c = self.cfg
        v = c[f'linear_variant_{variant}'] or c[f'linear_variant_{g}']
        if v != 'quantized_linear':
            return None
        m, b = c[f'quantize_linear_{key}_method'], c[f'quantize_linear_{key}_bits']
        return (m if m is not None else c['quantize_linear_method']), (b if b is not None else c['quantize_linear_bits'])

    def act(self, g, p, x, causal=False):
        spec = self.point(g, p)
        if spec is None:
            return x
        return ste(x, quantize_tensor(x, spec[0], spec[1], causal), quant_level(self.cfg, self.training, self.iter_num))

    def weight(self, spec, w):
        if spec is None or (self.training and self.iter_num < self.cfg['quantization_warmup_iters']):
            return w
        return ste(w, quantize_tensor(w, spec[0], spec[1]), quant_level(self.cfg, self.training, self.iter_num))


class QLinear(nn.Linear):
    """nn.Linear whose weight is fake-quantized as one tensor (after the warm-up); bias float."""

    def __init__(self, C_in, C_out, bias, quant, spec):
        super().__init__(C_in, C_out, bias=bias)
        self.quant, self.spec = quant, spec

    def forward(self, x):
        if self.quant is None:
            return super().forward(x)
        return F.linear(x, self.quant.weight(self.spec, self.weight), self.bias)


# ----------------------------------------------------------------------------------------------
# GPT (nanoGPT layout, separate q/k/v).


def _ql(C_in, C_out, b, quant, key):
    k, v, g = next(x for x in LINEARS if x[0] == key)
    spec = quant.linear(k, v, g) if quant is not None else None
    return QLinear(C_in, C_out, b, quant if spec else None, spec)


# ----------------------------------------------------------------------------------------------
# Attention softmax variants (docs/softmax.md). forward(S, mask): S the scaled scores [B, NH, T, T],
# mask True where a key is visible. Masked scores are replaced by 0 before any formula and the result
# is 0 there; row reductions run over visible entries only. Each piece of a piecewise function is
# evaluated on inputs where it is selected (others get a harmless stand-in), so no NaN reaches a gradient.


class SoftmaxVariant(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c = c = cfg
        self.name = v = cfg['softmax_variant_attn']
        NH = cfg['n_head']
        if v in ('consmax', 'consmax_quan'):
            self.beta = nn.Parameter(torch.tensor([c['consmax_initial_beta']]))
            self.gamma = nn.Parameter(torch.tensor([c['consmax_initial_gamma']]))
        elif v == 'consmax_v2':
            self.beta_factor = nn.Parameter(torch.ones(NH, 1, 1))
            self.gamma_factor = nn.Parameter(torch.ones(NH, 1, 1))
        elif v == 'saturatingconsmax':
            if c['consmax_learnable_beta']:
                self.beta = nn.Parameter(torch.tensor([c['consmax_initial_beta']]))
            if c['consmax_learnable_gamma']:
                self.gamma = nn.Parameter(torch.tensor([c['consmax_initial_gamma']]))
        elif v == 'strongermax':
            if c['strongermax_use_learned_obo_per_head']:
                self.obo_offset = nn.Parameter(torch.full((NH, 1, 1), c['strongermax_obo']))
            elif c['strongermax_use_learned_obo']:
                self.obo_offset = nn.Parameter(torch.tensor([c['strongermax_obo']]))
            if c['strongermax_use_learned_temperature_factor']:
                self.temperature_factor = nn.Parameter(torch.tensor([c['strongermax_temperature_factor']]))
        elif v == 'pfla_softmax':
            n, L, R = c['pfla_softmax_num_points'], c['pfla_softmax_left_bound'], c['pfla_softmax_right_bound']
            f32 = torch.float32
            if c['pfla_softmax_density'] == 'linear':
                xs = torch.linspace(L, R, n + 2, dtype=f32)[1:-1]
            else:
                u = torch.linspace(-1, 1, n + 2, dtype=f32)[1:-1]
                shaped = torch.sign(u) * u.abs() ** 2 if c['pfla_softmax_density'] == 'quad' \
                    else torch.sign(u) * (torch.exp(u.abs()) - 1) / (math.e - 1)
                xs = shaped * max(abs(L), R)
            act = make_activation(c['pfla_softmax_init_activation'], cfg)
            act.eval()
            with torch.no_grad():
                ys = torch.sqrt(torch.clamp(act(xs.to(torch.get_default_dtype())).to(f32), min=1e-6))
            xs, ys = xs.to(torch.get_default_dtype()), ys.to(torch.get_default_dtype())
            if c['pfla_softmax_learn_x']:
                self.x_vals = nn.Parameter(xs)
            else:
                self.register_buffer('x_vals', xs)
            if c['pfla_softmax_learn_y']:
                self.y_vals = nn.Parameter(ys)
            else:
                self.register_buffer('y_vals', ys)
            if c['pfla_softmax_use_learned_divisor']:
                self._gamma_raw = nn.Parameter(torch.tensor(c['pfla_softmax_gamma_init']))
            if c['pfla_softmax_use_obo'] and c['pfla_softmax_use_learned_obo']:
                self._obo_raw = nn.Parameter(torch.tensor(c['pfla_softmax_obo']))

    def _interp(self, Y, X):
        order = torch.argsort(self.x_vals)
        xs, ys = self.x_vals[order], Y[order]
        n = xs.shape[0]
        j = torch.clamp(torch.searchsorted(xs.detach(), X.detach().contiguous()) - 1, 0, n - 2)
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[j], ys[j + 1]
        return y0 + (y1 - y0) / torch.clamp(x1 - x0, min=1e-6) * (X - x0)

    def forward(self, S, mask):
        c, v, T = self.c, self.name, S.shape[-1]
        zero = torch.zeros_like(S)
        X = torch.where(mask, S, zero)
        vis = lambda A: torch.where(mask, A, zero)  # noqa: E731
        rowmax = lambda A: torch.where(mask, A, torch.full_like(A, -math.inf)).max(dim=-1, keepdim=True).values  # noqa: E731
        rowsum = lambda A: vis(A).sum(dim=-1, keepdim=True)  # noqa: E731
        seq = T if c['div_by_seq_len'] else 1
        lnb = lambda euler, base: 1.0 if euler else math.log(base)  # noqa: E731
        if v == 'softmax':
            e = vis(torch.exp(X - rowmax(X)))
            return e / rowsum(e)
        if v == 'softermax':
            e = vis(torch.pow(2.0, X - rowmax(X) if c['softermax_use_xmax'] else X))
            return e / rowsum(e)
        if v == 'sigsoftmax':
            k = lnb(c['sigsoftmax_use_euler_base'], c['sigsoftmax_base'])
            e = vis(torch.exp(k * X - rowmax(k * X)) * torch.sigmoid(k * X))
            return e / rowsum(e)
        if v == 'consmax':
            k = lnb(c['consmax_use_euler_base'], c['consmax_base'])
            return vis(torch.exp(k * (X - self.beta)) / self.gamma)
        if v == 'consmax_v2':
            k = lnb(c['consmax_use_euler_base'], c['consmax_base'])
            a = X - c['consmax_initial_beta'] * self.beta_factor
            if c['consmax_v2_clamping']:
                a = torch.where(a > c['consmax_v2_clamp_value'], torch.full_like(a, c['consmax_v2_clamp_value']), a)
            return vis(torch.exp(k * a) / (c['consmax_initial_gamma'] * self.gamma_factor))
        if v == 'consmax_quan':
            bq = torch.round(self.beta * 100) / 100
            gq = torch.round(self.gamma * 10) / 10
            bq = self.beta + (bq - self.beta).detach()  # straight-through
            gq = self.gamma + (gq - self.gamma).detach()
            return vis(torch.exp(X - bq) / gq)
        if v == 'saturatingconsmax':
            k = lnb(c['consmax_use_euler_base'], c['consmax_base'])
            beta = self.beta if c['consmax_learnable_beta'] else c['consmax_initial_beta']
            gamma = self.gamma if c['consmax_learnable_gamma'] else c['consmax_initial_gamma']
            xs = c['consmax_saturation'] + c['consmax_initial_beta']
            held = torch.where(X < xs, X, torch.full_like(X, xs))
            return vis(torch.exp(k * (held - beta)) / gamma / seq)
        if v in ('polymax', 'vpolymax'):
            x0, y0, p = c['polymax_x_intercept'], c['polymax_y_intercept'], c['polymax_power']
            slope = y0 / x0 if v == 'vpolymax' else y0 / (0 - x0)
            pos = X > 0
            mid = (X >= x0) & ~pos
            f = torch.where(pos, torch.where(pos, X, torch.ones_like(X)) ** p + y0,
                            torch.where(mid, slope * X + y0, zero))
            return vis(f / c['polymax_divisor'] / seq)
        if v == 'exppolymax':
            k = lnb(c['exppolymax_use_euler_base'], c['exppolymax_base'])
            p, y0 = c['exppolymax_power'], c['exppolymax_y_intercept']
            shift = 0.0 if p == 1 else (k / p) ** (1 / (p - 1))
            neg = X < 0
            f = torch.where(neg, torch.exp(k * torch.where(neg, X, zero)),
                            (torch.where(neg, zero, X) + shift) ** p + y0)
            return vis(f / c['exppolymax_divisor'] / seq)
        if v == 'relumax':
            return vis(torch.clamp(X, min=0) / c['relumax_divisor'] / seq)
        if v == 'relu2max':
            return vis(torch.clamp(X, min=0) ** 2 / c['relu2max_divisor'] / seq)
        if v == 'sigmoidmax':
            return vis(torch.sigmoid(X) / c['sigmoidmax_divisor'] / seq)
        if v == 'softplus':
            f = torch.where(X > 20, X, torch.log1p(torch.exp(torch.clamp(X, max=20))))
            return vis(f / c['softplus_divisor'] / seq)
        if v == 'squareplus':
            return vis(0.5 * (X + torch.sqrt(X * X + 4 * math.log(2) ** 2)) / c['squareplus_divisor'] / seq)
        if v == 'strongermax':
            a = X
            if c['strongermax_clamping']:
                a = torch.where(a > c['strongermax_clamp_value'], torch.full_like(a, c['strongermax_clamp_value']), a)
            g = c['strongermax_xmax_guess']
            if c['strongermax_use_xmax']:
                if c['strongermax_overflow_recompute']:
                    over = torch.where(mask, a - g, torch.full_like(a, -math.inf)).max().item() > c['strongermax_overflow_recompute_value']
                    a = a - rowmax(a) if over else a - g
                elif g is not None:
                    a = a - g
                else:
                    a = a - rowmax(a)
            tau = self.temperature_factor if c['strongermax_use_learned_temperature_factor'] else c['strongermax_temperature_factor']
            r = vis(torch.exp(math.log(c['strongermax_strength']) * a / tau))
            if c['strongermax_div_by_sum_of_terms']:
                obo = self.obo_offset if (c['strongermax_use_learned_obo'] or c['strongermax_use_learned_obo_per_head']) else c['strongermax_obo']
                r = r / (obo + rowsum(r))
            return r / seq / c['strongermax_divisor']
        if v == 'pfla_softmax':
            if c['pfla_softmax_mode'] == 'linear':
                y = self._interp(self.y_vals ** 2, X)
            else:
                y = X * self._interp(self.y_vals, X) ** 2
            y = vis(y)
            if c['pfla_softmax_use_learned_divisor']:
                return y / (torch.relu(self._gamma_raw) + 1e-6)
            den = rowsum(y) + 1e-6
            if c['pfla_softmax_use_obo']:
                den = den + torch.exp(self._obo_raw if c['pfla_softmax_use_learned_obo'] else torch.tensor(c['pfla_softmax_obo']))
            return y / den
        raise KeyError(f'unknown softmax variant {v}')


class Attention(nn.Module):
    def __init__(self, cfg, quant=None):
        super().__init__()
        C, b = cfg['n_embd'], cfg['bias']
        self.n_head = cfg['n_head']
        self.c_attn_q = _ql(C, C, b, quant, 'attn_q')
        self.c_attn_k = _ql(C, C, b, quant, 'attn_k')
        self.c_attn_v = _ql(C, C, b, quant, 'attn_v')
        self.c_proj = _ql(C, C, b, quant, 'attn_proj')
        self.drop = cfg['dropout']
        self.quant = quant
        if cfg['softmax_variant_attn'] != 'softmax':
            self.softmax_layer_attn = SoftmaxVariant(cfg)

    def forward(self, x):
        B, T, C = x.shape
        NH = self.n_head
        D = C // NH
        Q = self.quant.act if self.quant is not None else (lambda g, p, t, causal=False: t)
        x = Q('attn', 'input', x)
        q = Q('attn', 'qk_mult_q_input', self.c_attn_q(x)).view(B, T, NH, D).transpose(1, 2)
        k = Q('attn', 'qk_mult_k_input', self.c_attn_k(x)).view(B, T, NH, D).transpose(1, 2)
        v = Q('attn', 'pv_mult_v_input', self.c_attn_v(x)).view(B, T, NH, D).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        if hasattr(self, 'softmax_layer_attn'):
            att = self.softmax_layer_attn(att, mask.expand_as(att))
        else:
            att = att.masked_fill(~mask, float('-inf'))
            att = Q('attn', 'softmax_input', att, causal=True)
            att = F.softmax(att, dim=-1)
            att = Q('attn', 'pv_mult_p_input', att, causal=True)
        att = F.dropout(att, self.drop, self.training)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        y = Q('attn', 'pv_mult_output', y)
        return F.dropout(Q('attn', 'output', self.c_proj(y)), self.drop, self.training)


class MLP(nn.Module):
    def __init__(self, cfg, quant=None):
        super().__init__()
        C, b = cfg['n_embd'], cfg['bias']
        H = cfg['mlp_size'] if cfg['mlp_size'] is not None else cfg['mlp_expansion_factor'] * C
        act = cfg['activation_variant']
        self.c_fc = _ql(C, 2 * H if act == 'glu' else H, b, quant, 'mlp_up')
        self.activation_variant = make_activation(act, cfg)
        self.c_proj = _ql(H, C, b, quant, 'mlp_down')
        self.drop = cfg['dropout']
        self.quant = quant

    def forward(self, x):
        Q = self.quant.act if self.quant is not None else (lambda g, p, t: t)
        h = Q('mlp', 'activation_input', self.c_fc(Q('mlp', 'input', x)))
        h = Q('mlp', 'activation_output', self.activation_variant(h))
        return F.dropout(Q('mlp', 'output', self.c_proj(h)), self.drop, self.training)


class Block(nn.Module):
    def __init__(self, cfg, quant=None):
        super().__init__()
        C, nv = cfg['n_embd'], cfg['norm_variant_attn']
        self.pre, self.post, self.peri = cfg['use_pre_ln'], cfg['use_post_ln'], cfg['use_peri_ln']
        if self.pre:
            self.pre_ln_attn = make_norm(nv, C, cfg)
            self.pre_ln_mlp = make_norm(nv, C, cfg)
        if self.post:
            self.post_ln_attn = make_norm(nv, C, cfg)
            self.post_ln_mlp = make_norm(nv, C, cfg)
        if self.peri:
            self.out_ln_attn = make_norm(nv, C, cfg)
            self.out_ln_mlp = make_norm(nv, C, cfg)
        self.attn = Attention(cfg, quant)
        self.mlp = MLP(cfg, quant)

    def forward(self, x):
        h = self.pre_ln_attn(x) if self.pre else x
        a = self.attn(h)
        if self.peri:
            a = self.out_ln_attn(a)
        x = x + a
        if self.post:
            x = self.post_ln_attn(x)
        h = self.pre_ln_mlp(x) if self.pre else x
        m = self.mlp(h)
        if self.peri:
            m = self.out_ln_mlp(m)
        x = x + m
        if self.post:
            x = self.post_ln_mlp(x)
        return x


def layer_cfg(cfg, i):
    """The config block i sees: a per-layer list (repeating when shorter than n_layer) replaces
    norm_variant_attn / activation_variant, as in docs/variants.md ("Per-layer variants")."""
    c = dict(cfg)
    for flag in ('norm_variant_attn', 'activation_variant'):
        lst = cfg.get(flag + '_layerlist')
        if lst:
            c[flag] = lst[i % len(lst)]
    return c


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, V = cfg['n_embd'], cfg['vocab_size']
        self.quant = Quant(cfg)
        self.iter_num = 0
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(V, C),
            wpe=nn.Embedding(cfg['block_size'], C),
            h=nn.ModuleList([Block(layer_cfg(cfg, i), self.quant) for i in range(cfg['n_layer'])]),
            ln_f=make_norm(cfg['norm_variant_output'], C, cfg),
        ))
        self.lm_head = nn.Linear(C, V, bias=False)
        if cfg['wte_weight_tying']:
            self.lm_head.weight = self.transformer.wte.weight
        self._init()

    def _init(self):
        std_proj = 0.02 / math.sqrt(2 * self.cfg['n_layer'])
        for name, mod in self.named_modules():
            if isinstance(mod, nn.Linear):
                torch.nn.init.normal_(mod.weight, 0.0, std_proj if name.endswith('c_proj') else 0.02)
                if mod.bias is not None:
                    torch.nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.Embedding):
                torch.nn.init.normal_(mod.weight, 0.0, 0.02)

    def krms_modules(self):
        return [m for m in self.modules() if isinstance(m, KRMSNorm)]

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(T)
        qz, c = self.quant, self.cfg
        qz.training, qz.iter_num = self.training, self.iter_num
        level = quant_level(c, self.training, self.iter_num)

        def table(name, w):  # the whole table as one tensor; the tied lm_head keeps the float weight
            if not c[f'quantize_{name}']:
                return w
            return ste(w, quantize_tensor(w, c[f'quantize_{name}_method'], c[f'quantize_{name}_bits']), level)
        x = F.embedding(idx, table('wte', self.transformer.wte.weight)) + F.embedding(pos, table('wpe', self.transformer.wpe.weight))
        x = F.dropout(x, self.cfg['dropout'], self.training)
        for blk in self.transformer.h:
            x = blk(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss
