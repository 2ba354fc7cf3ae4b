#!/usr/bin/env node
// Kill -9 during checkpoint writes, resume, and compare with the uninterrupted run (docs/safety.md).
//   node tools/kill_checkpoints.mjs [--kills 20] [--max_delay_ms 20] [--data_dir DIR] [--json] [-- extra train flags]
// A reference run trains to the end; then a second run in a fresh folder is started, SIGKILLed while
// a checkpoint is being written (the moment a generation file `*.next`, the commit record or a
// temporary file of the commit record appears, plus a random 0 to max_delay_ms ms, if the write is still going;
// each process first completes one checkpoint of its own), and resumed with --init_from resume,
// again and again until it finishes. Every resume must succeed, and the finished run must equal the reference:
// the same log of losses and the same final weights, byte for byte.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'normlab.js');

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const own = dd < 0 ? argv : argv.slice(0, dd), extra = dd < 0 ? [] : argv.slice(dd + 1);
const opt = (name, def) => { const i = own.indexOf(`--${name}`); return i < 0 ? def : own[i + 1]; };
const kills = Number(opt('kills', 20));
const json = own.includes('--json');
const maxDelay = Number(opt('max_delay_ms', 20));
const say = (s) => { if (!json) console.log(s); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'normlab-kill-'));
let dataDir = opt('data_dir', null);
if (!dataDir) {
  dataDir = path.join(tmp, 'data');
  const p = spawnSync(process.execPath, [BIN, 'prepare', 'shakespeare_char', '--data_dir', dataDir], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`prepare failed: ${p.stderr}`);
}
const flags = ['--data_dir', dataDir, '--n_layer', '4', '--n_head', '4', '--n_embd', '256', '--block_size', '32',
  '--batch_size', '2', '--eval_iters', '1', '--eval_interval', '2', '--always_save_checkpoint', '--log_interval', '1',
  '--no-progress', '--no-tensorboard_log', ...extra];
if (!flags.includes('--max_iters')) flags.push('--max_iters', String(8 * kills + 8));

const ref = path.join(tmp, 'ref'), cut = path.join(tmp, 'cut');
const run = (args) => spawnSync(process.execPath, [BIN, 'train', ...args], { encoding: 'utf8' });

const t0 = Date.now();
const r = run([...flags, '--out_dir', ref]);
if (r.status !== 0) throw new Error(`reference run failed: ${r.stderr}`);
const refSeconds = (Date.now() - t0) / 1000;

/** A file that exists only while process pid writes a checkpoint (src/train/checkpoint.ts; the temporary names of older versions). */
const isCheckpointWrite = (pid) => (n) => n.endsWith('.next') || n.startsWith('checkpoint.commit') ||
  n === `ckpt.safetensors.tmp-${pid}` || n === `optim.safetensors.tmp-${pid}` || n === `state.json.tmp-${pid}`;

function stateIter() {
  try { return JSON.parse(fs.readFileSync(path.join(cut, 'state.json'), 'utf8')).iter; } catch { return null; }
}

/** Start (or resume) the run and SIGKILL it while a checkpoint is being written; resolves with what the kill hit. */
function killDuringWrite(resume) {
  return new Promise((resolve) => {
    const args = [...flags, '--out_dir', cut, ...(resume ? ['--init_from', 'resume'] : [])];
    const child = spawn(process.execPath, [BIN, 'train', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', aimed = false, settled = false;
    const settle = (v) => { if (!settled) { settled = true; clearInterval(poll); resolve(v); } };
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    // Kill only once this process has completed a checkpoint of its own (so each round makes progress
    // and a previous checkpoint exists), at a random point of a later write.
    const startIter = stateIter();
    const poll = setInterval(() => {
      if (aimed || !out.includes('normlab train:')) return; // after startup (and its recovery of the last kill)
      let names = [];
      try { names = fs.readdirSync(cut); } catch { return; }
      if (!names.some(isCheckpointWrite(child.pid))) return;
      const now = stateIter();
      if (now === null || now === startIter) return;
      aimed = true;
      setTimeout(() => {
        aimed = false;
        if (settled) return;
        let at = [];
        try { at = fs.readdirSync(cut).filter(isCheckpointWrite(child.pid)); } catch { /* */ }
        if (at.length === 0) return; // that write is over: wait for the next one
        child.kill('SIGKILL');
        settle({ killed: true, during: at, child, out: () => out, err: () => err });
      }, Math.floor(Math.random() * maxDelay));
    }, 2);
    child.on('close', (code) => settle({ killed: false, code, out: () => out, err: () => err }));
  });
}

const rounds = [];
let resume = false, hitsDuringWrite = 0;
for (let k = 0; k < kills; k++) {
  const res = await killDuringWrite(resume);
  if (!res.killed) {
    if (res.code !== 0) throw new Error(`round ${k + 1}: the run exited ${res.code} before it could be killed: ${res.err()}`);
    say(`round ${k + 1}: the run finished before a kill (raise --max_iters)`);
    break;
  }
  await new Promise((r2) => res.child.on('close', r2));
  const state = fs.existsSync(path.join(cut, 'state.json')) ? JSON.parse(fs.readFileSync(path.join(cut, 'state.json'), 'utf8')).iter : null;
  hitsDuringWrite++;
  rounds.push({ round: k + 1, during: res.during, state_iter_after_kill: state });
  say(`kill ${k + 1}: during write of [${res.during.join(', ')}]; state.json at iter ${state}`);
  resume = fs.existsSync(path.join(cut, 'state.json')) || fs.existsSync(path.join(cut, 'checkpoint.commit'));
}
// Finish: resume until done (a kill may have landed before the first checkpoint).
const fin = run([...flags, '--out_dir', cut, ...(resume ? ['--init_from', 'resume'] : [])]);
if (fin.status !== 0) throw new Error(`final resume failed (exit ${fin.status}): ${fin.stderr}`);

const log = (d) => fs.readFileSync(path.join(d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map(({ ms: _ms, ...row }) => row);
const sameLog = JSON.stringify(log(ref)) === JSON.stringify(log(cut));
const sameWeights = Buffer.compare(fs.readFileSync(path.join(ref, 'final.safetensors')), fs.readFileSync(path.join(cut, 'final.safetensors'))) === 0;
const ckptBytes = fs.statSync(path.join(ref, 'ckpt.safetensors')).size + fs.statSync(path.join(ref, 'optim.safetensors')).size;
const result = { kills: rounds.length, during_write: hitsDuringWrite, resumes_ok: true, same_log: sameLog, same_final_weights: sameWeights,
  checkpoint_bytes: ckptBytes, reference_seconds: refSeconds, rounds, folder: tmp };
if (json) console.log(JSON.stringify(result));
else {
  say(`${rounds.length} kills (${hitsDuringWrite} during a checkpoint write of ${(ckptBytes / 1e6).toFixed(1)} MB), every resume ok; ` +
    `log ${sameLog ? 'identical' : 'DIFFERS'}, final weights ${sameWeights ? 'identical' : 'DIFFER'} to the uninterrupted run`);
}
if (!json && sameLog && sameWeights) fs.rmSync(tmp, { recursive: true, force: true });
process.exitCode = sameLog && sameWeights ? 0 : 1;
