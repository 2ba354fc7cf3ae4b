// Shared test helpers: a small char dataset in a temp folder, and running the CLI as a user would.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { prepareChar } from '../src/data/make-dataset.js';
import { UserError } from '../src/util/errors.js';
import { defaultConfig } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'normlab.js');

export function tmpDir(prefix = 'normlab-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A data_dir holding `tiny`: the first 20,000 characters of the shipped Shakespeare. */
export function tinyData(): string {
  const dir = tmpDir('normlab-data-');
  const text = fs.readFileSync(path.join(ROOT, 'data', 'shakespeare_char', 'input.txt'), 'utf8').slice(0, 20000);
  prepareChar(text, path.join(dir, 'tiny'));
  return dir;
}

export const TINY_MODEL = ['--dataset', 'tiny', '--n_layer', '2', '--n_head', '2', '--n_embd', '16', '--block_size', '16',
  '--batch_size', '4', '--eval_iters', '2', '--log_interval', '1', '--no-progress', '--no-tensorboard_log'];

export function cli(args: string[], opts: { cwd?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: opts.cwd ?? ROOT });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function readLog(dir: string): Record<string, number>[] {
  return fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** A 2-layer, 8-wide model config over a 7-token vocabulary, for gradient checks and loading tests. */
export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return { ...defaultConfig(), vocab_size: 7, n_layer: 2, n_head: 2, n_embd: 8, block_size: 5, ...over };
}

/** Asserts that f throws a UserError whose message contains every fragment. */
export function throwsUser(f: () => unknown, ...fragments: string[]): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const s of fragments) assert.ok(e.message.includes(s), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(s)}`);
    return e.message;
  }
  assert.fail('expected a UserError');
}

/** Runs `<fn>(argv)` of src/cli/<module>.js in a child node process, as main() runs a command (user
 * errors become messages), so its terminal output can be read. */
export function cliFunction(module: string, fn: string, argv: string[], env: NodeJS.ProcessEnv = process.env): { code: number; out: string } {
  const url = new URL(`../src/cli/${module}.js`, import.meta.url).href, main = new URL('../src/cli/main.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(url)}); const { runCommand } = await import(${JSON.stringify(main)}); ` +
    `process.exitCode = await runCommand(m.${fn}, ${JSON.stringify(argv)});`],
  { encoding: 'utf8', env });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}
