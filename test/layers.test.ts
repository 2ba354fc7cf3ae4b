// The layering of src/ (docs/readme/50-development.md): every import points down or sideways within
// its own folder, never up, type-only imports included (a type import is still a dependency: the
// lower layer could not be read, built or moved without the upper one).
//   util <- engine <- nn, data, stats <- config <- model <- train <- sampling.ts <- sweep, dashboard <- cli
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

/** Rank of each unit of src/ (a top-level folder, or a file at the top). Equal ranks may not import each other. */
const RANK: Record<string, number> = {
  util: 0, engine: 1, nn: 2, data: 2, stats: 2, config: 3, model: 4, train: 5, 'sampling.ts': 6, sweep: 7, dashboard: 7, cli: 8,
};

/** The relative module paths a source file imports: static imports and re-exports (type-only ones too,
 * marked), dynamic imports and `import('...')` types. */
export function moduleImports(source: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  // import x from '...'; import { a, type B } from '...'; import * as x from '...'; export * from '...';
  // export { a } from '...' (braces may span lines); `import type` and all-`type` braces are type-only.
  for (const m of source.matchAll(/^[ \t]*(?:import|export)\s+(type\s+)?([^;'"]*?)\s+from\s+'([^']+)'/gm)) {
    const braces = /^\{([^}]*)\}$/.exec(m[2].trim());
    const allTypes = !!braces && braces[1].split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
    out.push({ spec: m[3], typeOnly: !!m[1] || allTypes });
  }
  for (const m of source.matchAll(/^[ \t]*import\s+'([^']+)'/gm)) out.push({ spec: m[1], typeOnly: false }); // side effects only
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1], typeOnly: /typeof\s+$/.test(source.slice(0, m.index)) });
  return out.filter((i) => i.spec.startsWith('.'));
}

function unitOf(file: string, srcDir: string): string {
  const rel = path.relative(srcDir, file).split(path.sep);
  return rel[0];
}

/** Every upward or sideways-across-units import under srcDir (type-only ones included), as "file -> target" lines. */
export function upwardImports(srcDir: string): string[] {
  const bad: string[] = [];
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
  for (const file of walk(srcDir)) {
    const from = unitOf(file, srcDir);
    for (const { spec, typeOnly } of moduleImports(fs.readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      const to = unitOf(target, srcDir);
      if (to === from) continue;
      const rf = RANK[from], rt = RANK[to];
      if (rf === undefined || rt === undefined || rt >= rf) {
        bad.push(`${path.relative(srcDir, file)} -> ${spec} (${from} may not import ${to}${typeOnly ? ', not even types' : ''})`);
      }
    }
  }
  return bad;
}

test('moduleImports finds run-time and type-only imports and tells them apart', () => {
  const src = [
    "import { a } from '../x.js';",
    "import type { B } from '../y.js';",
    "import { type C, type D } from '../z.js';",
    "import {\n  e,\n  type F,\n} from '../w.js';",
    "import * as fs from 'node:fs';",
    "export * from './v.js';",
    "export type { G } from './u.js';",
    "const m = await import('../t.js');",
    "let n: typeof import('../s.js');",
  ].join('\n');
  assert.deepEqual(moduleImports(src).map((i) => `${i.spec}${i.typeOnly ? ' (type)' : ''}`),
    ['../x.js', '../y.js (type)', '../z.js (type)', '../w.js', './v.js', './u.js (type)', '../t.js', '../s.js (type)']);
});

test('upwardImports finds an upward import in a made-up tree', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'layers-'));
  try {
    for (const d of ['engine', 'nn', 'cli']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, 'engine', 'a.ts'), "import { v } from '../nn/b.js';\nimport type { T } from '../cli/c.js';\n");
    fs.writeFileSync(path.join(dir, 'nn', 'b.ts'), "import { a } from '../engine/a.js';\nexport const v = 1;\n");
    fs.writeFileSync(path.join(dir, 'cli', 'c.ts'), "import { v } from '../nn/b.js';\n");
    assert.deepEqual(upwardImports(dir), [
      'engine/a.ts -> ../nn/b.js (engine may not import nn)',
      'engine/a.ts -> ../cli/c.js (engine may not import cli, not even types)',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('src/ imports only downward, types included (util <- engine <- nn <- config <- model <- train <- sweep, dashboard <- cli)', () => {
  assert.deepEqual(upwardImports(path.join(ROOT, 'src')), []);
});

test('no two files in src/ share a name (a file is found by its name alone)', () => {
  const seen = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) seen.set(e.name, [...(seen.get(e.name) ?? []), path.relative(ROOT, p)]);
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.deepEqual([...seen.values()].filter((ps) => ps.length > 1), []);
});
