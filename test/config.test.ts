// src/config: the flag parser, --help and checkTrainConfig. The seed document's flags are written out by hand
// below (from the user's flag document), so a change to the flag table that breaks
// a name, type or default fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkTrainConfig, checkValue, defaultConfig, FLAGS, HelpRequested, levenshtein, nearest, parseFlags, PREPARE_FLAGS,
  SAMPLE_FLAGS, tableDefaults, type FlagSpec,
} from '../src/config/config.js';
import { formatHelp } from '../src/cli/help.js';
import { throwsUser } from './helpers.js';

const parse = (argv: string[]) => parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>);


// Every flag of the seed document: [name, type, default] (None = null).
const SEED: [string, string, number | boolean | string | null][] = [
  ['norm_variant_attn', 'str', 'rmsnorm'],
  ['norm_variant_output', 'str', 'rmsnorm'],
  ['use_pre_ln', 'bool', true],
  ['use_post_ln', 'bool', false],
  ['use_peri_ln', 'bool', false],
  ['prmsnorm_pct', 'float', 0.0625],
  ['krmsnorm_num', 'int', 10],
  ['krmsnorm_quantize_type', 'str', 'none'],
  ['krmsnorm_enable_gain', 'bool', true],
  ['krmsnorm_selection_type', 'str', 'last'],
  ['krmsnorm_recompute_percentage', 'float', null],
  ['hsnorm_gain', 'bool', false],
  ['hsnorm_radius', 'float', null],
  ['hsnorm_radius_learning', 'bool', false],
  ['dact_activation', 'str', 'tanh'],
  ['dact_use_gamma', 'bool', true],
  ['dact_use_beta', 'bool', true],
  ['dact_alpha_init', 'float', 1.0],
  ['dact_use_alpha', 'bool', true],
  ['activation_variant', 'str', 'gelu'],
  ['shifted_gelu_learnable_shift', 'bool', true],
  ['shifted_gelu_initial_shift', 'float', 0.0],
  ['pla_num_points', 'int', 7],
  ['pla_left_bound', 'float', -2.0],
  ['pla_right_bound', 'float', 2.0],
  ['pfla_num_points', 'int', 50],
  ['pfla_left_bound', 'float', -10.0],
  ['pfla_right_bound', 'float', 10.0],
  ['lsa_num_knots', 'int', 30],
];
// The user's flag list: training and model flags with the reference defaults.
const REFERENCE: [string, string, number | boolean | string | null][] = [
  ['dataset', 'str', 'shakespeare_char'], ['out_dir', 'str', 'out'], ['batch_size', 'int', 64],
  ['block_size', 'int', 256], ['n_layer', 'int', 6], ['n_head', 'int', 6], ['n_embd', 'int', 384],
  ['dropout', 'float', 0.0], ['bias', 'bool', false], ['mlp_expansion_factor', 'int', 4], ['mlp_size', 'int', null],
  ['wte_weight_tying', 'bool', true], ['max_iters', 'int', 3500], ['learning_rate', 'float', 1e-3],
  ['min_lr', 'float', 1e-4], ['decay_lr', 'bool', false], ['warmup_iters', 'int', 100],
  ['lr_decay_iters', 'int', 3500], ['weight_decay', 'float', 0.1], ['beta1', 'float', 0.9], ['beta2', 'float', 0.99],
  ['grad_clip', 'float', 1.0], ['gradient_accumulation_steps', 'int', 1], ['eval_interval', 'int', 250],
  ['eval_iters', 'int', 200], ['log_interval', 'int', 10], ['always_save_checkpoint', 'bool', false],
  ['init_from', 'str', 'scratch'], ['seed', 'int', 1337], ['max_sample_tokens', 'int', null],
  ['data_dir', 'str', 'data'],
];

test('every seed-document and reference flag exists with its type and default', () => {
  for (const [name, type, def] of [...SEED, ...REFERENCE]) {
    const f = FLAGS.find((x) => x.name === name);
    assert.ok(f, `missing flag --${name}`);
    assert.equal(f.type, type, `--${name} type`);
    assert.equal(f.default, def, `--${name} default`);
    if (def === null) assert.ok(f.nullable, `--${name} must accept None`);
  }
  const cfg = defaultConfig() as unknown as Record<string, unknown>;
  for (const [name, , def] of [...SEED, ...REFERENCE]) assert.equal(cfg[name], def);
  // The choice lists of the seed document.
  const choices = (n: string) => FLAGS.find((x) => x.name === n)!.choices;
  assert.deepEqual([...choices('norm_variant_attn')!].sort(),
    ['dact', 'hyperspherenorm', 'identity', 'krmsnorm', 'layernorm', 'prmsnorm', 'rmsnorm']);
  assert.deepEqual(choices('norm_variant_output'), choices('norm_variant_attn'));
  assert.deepEqual([...choices('krmsnorm_quantize_type')!].sort(), ['int16', 'int8', 'none']);
  assert.deepEqual([...choices('krmsnorm_selection_type')!].sort(), ['first', 'last', 'random']);
  assert.equal(choices('activation_variant')!.length, 23);
  for (const a of ['celu', 'gelu_shifted', 'glu', 'learned_spline', 'piecewise', 'pfla', 'pfla_le', 'squared_relu', 'identity']) {
    assert.ok(choices('activation_variant')!.includes(a), a);
  }
  // Names are unique in every table.
  for (const table of [FLAGS, SAMPLE_FLAGS, PREPARE_FLAGS]) {
    assert.equal(new Set(table.map((f) => f.name)).size, table.length);
  }
});

test('--name value and --name=value, for every type', () => {
  const r = parse(['--n_layer', '4', '--n_embd=128', '--dropout', '0.1', '--learning_rate=3e-4',
    '--norm_variant_attn', 'krmsnorm', '--activation_variant=relu', '--out_dir', 'out/x']);
  assert.equal(r.config.n_layer, 4);
  assert.equal(r.config.n_embd, 128);
  assert.equal(r.config.dropout, 0.1);
  assert.equal(r.config.learning_rate, 3e-4);
  assert.equal(r.config.norm_variant_attn, 'krmsnorm');
  assert.equal(r.config.activation_variant, 'relu');
  assert.equal(r.config.out_dir, 'out/x');
  assert.deepEqual([...r.given].sort(), ['activation_variant', 'dropout', 'learning_rate', 'n_embd', 'n_layer', 'norm_variant_attn', 'out_dir']);
  assert.equal(r.config.n_head, 6, 'untouched flags keep the base value');
  assert.deepEqual(r.positional, []);
});

test('booleans: --flag, --no-flag, --flag true|false, --flag=false, word forms', () => {
  assert.equal(parse(['--bias']).config.bias, true);
  assert.equal(parse(['--no-use_pre_ln']).config.use_pre_ln, false);
  assert.equal(parse(['--use_pre_ln', 'false']).config.use_pre_ln, false);
  assert.equal(parse(['--bias', 'true']).config.bias, true);
  assert.equal(parse(['--use_pre_ln=false']).config.use_pre_ln, false);
  assert.equal(parse(['--bias=True']).config.bias, true);
  for (const [w, v] of [['True', true], ['False', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['YES', true], ['FALSE', false]] as const) {
    assert.equal(parse(['--decay_lr', w]).config.decay_lr, v, w);
    assert.equal(parse([`--decay_lr=${w}`]).config.decay_lr, v, w);
  }
  // A bare boolean before another flag takes no value.
  const r = parse(['--bias', '--n_layer', '2', '--no-wte_weight_tying']);
  assert.equal(r.config.bias, true);
  assert.equal(r.config.n_layer, 2);
  assert.equal(r.config.wte_weight_tying, false);
  assert.ok(r.given.has('wte_weight_tying'));
});

test('nullable flags accept None/none/null; numbers: ints, floats, negatives', () => {
  for (const w of ['None', 'none', 'null']) {
    const base = { ...defaultConfig(), mlp_size: 128 } as unknown as Record<string, unknown>;
    assert.equal(parseFlags(['--mlp_size', w], FLAGS, base).config.mlp_size, null);
    assert.equal(parse([`--krmsnorm_recompute_percentage=${w}`]).config.krmsnorm_recompute_percentage, null);
  }
  assert.equal(parse(['--mlp_size', '512']).config.mlp_size, 512);
  assert.equal(parse(['--krmsnorm_recompute_percentage', '0.1']).config.krmsnorm_recompute_percentage, 0.1);
  assert.equal(parse(['--hsnorm_radius', '.5']).config.hsnorm_radius, 0.5);
  assert.equal(parse(['--learning_rate', '1e-3']).config.learning_rate, 1e-3);
  assert.equal(parse(['--learning_rate', '5.']).config.learning_rate, 5);
  assert.equal(parse(['--pla_left_bound', '-2']).config.pla_left_bound, -2);
  assert.equal(parse(['--pla_left_bound', '-1.5e1']).config.pla_left_bound, -15);
  assert.equal(parse(['--pla_left_bound=-3']).config.pla_left_bound, -3);
  assert.equal(parse(['--seed', '-7']).config.seed, -7);
  assert.equal(parse(['--seed', '+7']).config.seed, 7);
  assert.equal(parse(['--dropout', '0']).config.dropout, 0);
  // A non-nullable string keeps "None" as text; the choice "none" of krmsnorm_quantize_type is a choice.
  assert.equal(parse(['--krmsnorm_quantize_type', 'none']).config.krmsnorm_quantize_type, 'none');
  assert.equal(parse(['--out_dir', 'None']).config.out_dir, 'None');
});

test('last one wins, positional arguments, --, base not mutated', () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  const r = parseFlags(['a', '--n_layer', '2', 'b', '--n_layer=3', '--bias', '--no-bias', '--', '--n_layer', '9', '-h'], FLAGS, base);
  assert.equal(r.config.n_layer, 3);
  assert.equal(r.config.bias, false);
  assert.deepEqual(r.positional, ['a', 'b', '--n_layer', '9', '-h']);
  assert.equal(base.n_layer, 6);
  assert.equal(base.bias, false);
  assert.deepEqual(parseFlags(['shakespeare_char'], PREPARE_FLAGS, tableDefaults(PREPARE_FLAGS)).positional, ['shakespeare_char']);
  assert.deepEqual(parse(['-']).positional, ['-']);
});

test('-h and --help throw HelpRequested (even beside mistakes)', () => {
  for (const argv of [['-h'], ['--help'], ['--n_layer', '4', '--help'], ['--bogus', '-h']]) {
    assert.throws(() => parse(argv), (e: unknown) => e instanceof HelpRequested && e.table === FLAGS);
  }
});

test('unknown flags name the nearest known flag', () => {
  const msg = throwsUser(() => parse(['--norm_varient_attn', 'rmsnorm']), 'unknown flag --norm_varient_attn');
  assert.equal(msg, 'unknown flag --norm_varient_attn (did you mean --norm_variant_attn?)');
  throwsUser(() => parse(['--n-layer', '3']), '(did you mean --n_layer?)');
  throwsUser(() => parse(['--no-bais']), '(did you mean --no-bias?)');
  throwsUser(() => parse(['--leraning_rate', '1']), '(did you mean --learning_rate?)');
  throwsUser(() => parse(['--N_EMBD', '3']), '(did you mean --n_embd?)');
  throwsUser(() => parse(['--xyzzy']), 'unknown flag --xyzzy', '--help lists the flags');
  throwsUser(() => parse(['-n_layer', '3']), 'unknown option -n_layer', 'did you mean --n_layer?');
  // A flag of another command is unknown here.
  throwsUser(() => parseFlags(['--n_layer', '3'], PREPARE_FLAGS, tableDefaults(PREPARE_FLAGS)), 'unknown flag --n_layer');
});

test('wrong types and bad choices name the flag, the value and what is allowed', () => {
  throwsUser(() => parse(['--n_layer', '1.5']), '--n_layer', '"1.5"', 'not an integer', 'an integer');
  throwsUser(() => parse(['--n_layer=abc']), '--n_layer', '"abc"', 'not a number');
  throwsUser(() => parse(['--n_layer', '1e3']), '--n_layer', 'not an integer');
  throwsUser(() => parse(['--n_layer', 'None']), '--n_layer', '"None"');
  throwsUser(() => parse(['--dropout', 'abc']), '--dropout', '"abc"', 'not a number', '1e-3');
  throwsUser(() => parse(['--dropout', '0x10']), '--dropout', '"0x10"');
  throwsUser(() => parse(['--dropout=']), '--dropout', '""', 'not a number');
  throwsUser(() => parse(['--learning_rate', '1e999']), '--learning_rate', 'not a finite number');
  throwsUser(() => parse(['--bias=maybe']), '--bias', '"maybe"', 'not a boolean', '--no-bias');
  const msg = throwsUser(() => parse(['--norm_variant_attn', 'rmsnrom']), '--norm_variant_attn', '"rmsnrom"',
    'did you mean rmsnorm?', 'allowed: layernorm, rmsnorm, prmsnorm, krmsnorm, hyperspherenorm, dact, identity');
  assert.ok(msg.startsWith('--norm_variant_attn'));
  throwsUser(() => parse(['--activation_variant=swish']), '--activation_variant', '"swish"', 'celu', 'squared_relu', 'identity');
  throwsUser(() => parse(['--krmsnorm_quantize_type', 'int4']), '"int4"', 'allowed: int8, int16, none');
  throwsUser(() => parse(['--backend', 'cuda']), 'allowed: auto, ts, native');
});

test('missing values and misuse of --no-', () => {
  throwsUser(() => parse(['--n_layer']), '--n_layer needs a value', 'an integer');
  throwsUser(() => parse(['--n_layer', '--bias']), '--n_layer needs a value');
  throwsUser(() => parse(['--out_dir', '--', 'x']), '--out_dir needs a value');
  throwsUser(() => parse(['--out_dir', '-x']), '--out_dir needs a value', '--out_dir=-x');
  throwsUser(() => parse(['--no-n_layer']), '--no-n_layer', 'not a boolean flag', '--n_layer 6');
  throwsUser(() => parse(['--no-bias=true']), '--no-bias takes no value', '--bias false');
  throwsUser(() => parse(['--no-bias', 'false']), '--no-bias takes no value');
  assert.equal(parse(['--out_dir=-x']).config.out_dir, '-x');
  assert.equal(parse(['--out_dir=']).config.out_dir, '');
});

test('maxPositional refuses stray arguments', () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  throwsUser(() => parseFlags(['--bias', 'maybe'], FLAGS, base, { maxPositional: 0 }), 'unexpected argument "maybe"', 'no positional');
  throwsUser(() => parseFlags(['a', 'b'], PREPARE_FLAGS, tableDefaults(PREPARE_FLAGS), { maxPositional: 1 }), '"b"', 'at most 1');
  assert.deepEqual(parseFlags(['a'], PREPARE_FLAGS, tableDefaults(PREPARE_FLAGS), { maxPositional: 1 }).positional, ['a']);
});

test('formatHelp lists every flag under its group, in order, with its default', () => {
  const text = formatHelp('train', FLAGS);
  assert.ok(text.startsWith('usage: normlab train [flags]\n'));
  const groups = ['model', 'normalization', 'activation', 'softmax', 'quantization', 'training', 'data', 'logging'];
  const at = groups.map((g) => text.indexOf(`\n${g}:\n`));
  for (let i = 0; i < at.length; i++) {
    assert.ok(at[i] > 0, `group ${groups[i]} missing`);
    if (i > 0) assert.ok(at[i] > at[i - 1], `group ${groups[i]} out of order`);
  }
  const sectionOf = (pos: number) => groups[at.filter((a) => a < pos).length - 1];
  for (const f of FLAGS) {
    const pos = text.indexOf(`  --${f.name}${f.type === 'bool' ? ',' : ' '}`);
    assert.ok(pos > 0, `--${f.name} not in help`);
    assert.equal(sectionOf(pos), f.group, `--${f.name} under the wrong group`);
    if (f.type === 'bool') assert.ok(text.includes(`--no-${f.name}`));
  }
  assert.ok(text.includes('(default: 0.0625)'));
  assert.ok(text.includes('(default: rmsnorm)'));
  assert.ok(text.includes('(default: None)'));
  assert.ok(text.includes('-h, --help'));
  for (const line of text.split('\n')) assert.ok(line.length <= 100 || !line.includes(' '), `long line: ${line}`);
  const sample = formatHelp('sample', SAMPLE_FLAGS, 'normlab sample [flags]');
  assert.ok(sample.includes('\nsampling:\n') && sample.includes('--temperature FLOAT'));
  assert.ok(sample.includes('(default: "\\n")'), 'a newline default is shown escaped');
});

test('levenshtein and nearest', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(levenshtein('abc', 'abc'), 0);
  assert.equal(nearest('gleu', ['gelu', 'glu', 'relu']), 'glu');
  assert.equal(nearest('completely_different', ['gelu', 'glu']), null);
});

test('checkTrainConfig accepts the defaults and refuses impossible combinations', () => {
  const ok = defaultConfig() as unknown as Record<string, unknown>;
  assert.deepEqual(checkTrainConfig(ok), []);
  const bad = (patch: Record<string, unknown>, ...fragments: string[]) =>
    throwsUser(() => checkTrainConfig({ ...ok, ...patch }), 'invalid configuration', ...fragments);
  bad({ n_embd: 100, n_head: 6 }, '--n_embd 100 is not divisible by --n_head 6', 'choose n_head among 1, 2, 4, 5, 10');
  for (const k of ['n_layer', 'n_head', 'n_embd', 'block_size', 'batch_size', 'mlp_expansion_factor']) bad({ [k]: 0 }, `--${k} is 0`, '>= 1');
  bad({ mlp_size: 0 }, '--mlp_size is 0', 'None');
  bad({ dropout: 1 }, '--dropout is 1', '[0, 1)');
  bad({ dropout: -0.1 }, '--dropout');
  // A variant's own flags are checked when it is used (declared in its file, run by problemsOf).
  bad({ norm_variant_attn: 'krmsnorm', krmsnorm_num: 0 }, '--krmsnorm_num is 0');
  bad({ norm_variant_output: 'krmsnorm', krmsnorm_recompute_percentage: -0.1 }, '--krmsnorm_recompute_percentage is -0.1', '>= 0');
  assert.deepEqual(checkTrainConfig({ ...ok, krmsnorm_num: 0 }), [], 'unused krmsnorm flags are not checked');
  bad({ eval_interval: 0 }, '--eval_interval is 0');
  bad({ eval_iters: 0 }, '--eval_iters is 0');
  bad({ log_interval: 0 }, '--log_interval is 0');
  bad({ gradient_accumulation_steps: 0 }, '--gradient_accumulation_steps is 0');
  bad({ learning_rate: -1e-3 }, '--learning_rate is -0.001', '>= 0');
  bad({ weight_decay: -1 }, '--weight_decay');
  bad({ beta2: 1 }, '--beta2 is 1', '[0, 1)');
  bad({ max_sample_tokens: 0 }, '--max_sample_tokens is 0');
  bad({ norm_variant_attn: 'dact', dact_activation: 'glu' }, '--dact_activation glu cannot be used inside dact');
  bad({ init_from: 'gpt2' }, '--init_from "gpt2"', 'scratch, resume, or a path to a .safetensors file');
  bad({ out_dir: '' }, '--out_dir is empty');
  // Piecewise flags are checked when the activation is used, directly or inside dact.
  bad({ activation_variant: 'piecewise', pla_left_bound: 2, pla_right_bound: 2 }, '--pla_left_bound 2 must be smaller than --pla_right_bound 2');
  bad({ activation_variant: 'piecewise', pla_num_points: 0 }, '--pla_num_points is 0');
  bad({ activation_variant: 'pfla', pfla_left_bound: 5, pfla_right_bound: -5 }, '--pfla_left_bound 5');
  bad({ activation_variant: 'pfla_le', pfla_num_points: 1 }, '--pfla_num_points is 1', 'pfla_le');
  bad({ norm_variant_output: 'dact', dact_activation: 'learned_spline', lsa_num_knots: 1 }, '--lsa_num_knots is 1', 'two knots');
  assert.deepEqual(checkTrainConfig({ ...ok, pla_left_bound: 3, pla_right_bound: 2 }), [], 'unused pla flags are not checked');
  // Several problems are reported together.
  bad({ n_layer: 0, dropout: 2 }, '--n_layer is 0', '--dropout is 2');
  // Values of the wrong type (configs from JSON sweeps).
  bad({ n_layer: 2.5 }, '--n_layer: 2.5 is not valid', 'an integer');
  bad({ bias: 'yes' }, '--bias');
  bad({ norm_variant_attn: 'batchnorm' }, '--norm_variant_attn', 'one of');
  bad({ n_layer: null }, '--n_layer cannot be None');
  bad({ learning_rate: Infinity }, '--learning_rate');
  // Defined but suspicious values are warnings, not errors.
  assert.match(checkTrainConfig({ ...ok, norm_variant_attn: 'prmsnorm', prmsnorm_pct: 6.25 })[0], /prmsnorm_pct is 6.25/);
  assert.match(checkTrainConfig({ ...ok, decay_lr: true, warmup_iters: 100, lr_decay_iters: 50 })[0], /lr_decay_iters 50/);
  assert.deepEqual(checkTrainConfig({ ...ok, krmsnorm_recompute_percentage: 0, max_iters: 0, learning_rate: 0 }), []);
});

test('checkValue and tableDefaults', () => {
  const f = FLAGS.find((x) => x.name === 'mlp_size') as FlagSpec;
  assert.equal(checkValue(f, null), null);
  assert.equal(checkValue(f, 12), null);
  assert.match(checkValue(f, '12')!, /--mlp_size/);
  assert.deepEqual(tableDefaults(PREPARE_FLAGS), { input: null, tokenizer: null, data_dir: 'data' });
});
