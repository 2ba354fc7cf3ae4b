// The docs cite the code: every repository path written in backticks in docs/ (and the README parts)
// exists, and a name cited "in" a file (`name` in `path`, `path`'s `name`) occurs in that file. A
// rename or a move that leaves a doc behind fails here instead of misleading a reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

const TOP = ['src/', 'native/', 'wasm/', 'tools/', 'test/', 'scripts/', 'docs/', 'bench/', 'explorations/', 'bin/'];

function docFiles(): string[] {
  const list = (d: string) => fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith('.md')).map((f) => path.join(d, f));
  return [...list('docs'), ...list('docs/readme')];
}

/** Backticked repository paths in a markdown text (no globs, placeholders or brace lists), without a trailing `:line` or `#anchor`. */
export function citedPaths(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/`([^`\s]+)`/g)) {
    const p = m[1].replace(/[:#].*$/, '').replace(/[.,;)]+$/, '');
    if (!TOP.some((t) => p.startsWith(t)) || /[*{}<>$]/.test(p)) continue;
    out.add(p);
  }
  return [...out];
}

/** Pairs (name, path) where a doc says a name is in a file: "`name` in `path`" or "`name` (`path`)". */
export function citedNames(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of text.matchAll(/`([A-Za-z_][A-Za-z0-9_.]*)(?:\(\))?` (?:in |from |\()`([^`\s]+)`/g)) {
    const file = m[2].replace(/[:#].*$/, '');
    if (!TOP.some((t) => file.startsWith(t)) || /[*{}<>$]/.test(file)) continue;
    out.push([m[1].split('.').pop()!, file]);
  }
  return out;
}

test('citedPaths and citedNames read backticked paths and "name in path" claims', () => {
  const md = 'see `src/a.ts:12`, `src/nn/*.ts`, `docs/x.md#y`, `npm test`; `foo()` in `src/b.ts`, `Bar.baz` (`src/c.ts`).';
  assert.deepEqual(citedPaths(md), ['src/a.ts', 'docs/x.md', 'src/b.ts', 'src/c.ts']);
  assert.deepEqual(citedNames(md), [['foo', 'src/b.ts'], ['baz', 'src/c.ts']]);
});

test('every file path cited in docs/ exists', () => {
  const missing: string[] = [];
  let n = 0;
  for (const doc of docFiles()) {
    for (const p of citedPaths(fs.readFileSync(path.join(ROOT, doc), 'utf8'))) {
      n++;
      if (!fs.existsSync(path.join(ROOT, p))) missing.push(`${doc}: ${p}`);
    }
  }
  assert.deepEqual(missing, []);
  assert.ok(n > 50, `only ${n} paths found: the pattern no longer reads the docs`);
});

test('every name cited as being in a file occurs in that file', () => {
  const wrong: string[] = [];
  for (const doc of docFiles()) {
    for (const [name, file] of citedNames(fs.readFileSync(path.join(ROOT, doc), 'utf8'))) {
      const full = path.join(ROOT, file);
      if (!fs.existsSync(full) || fs.statSync(full).isDirectory()) continue; // a folder: the path test covers it
      if (!fs.readFileSync(full, 'utf8').includes(name)) wrong.push(`${doc}: ${name} is not in ${file}`);
    }
  }
  assert.deepEqual(wrong, []);
});
