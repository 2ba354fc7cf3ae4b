// The layering of src/ (docs/readme/50-development.md): every run-time import points down or sideways
// within its own folder, never up. Type-only imports are free (they vanish from the JavaScript).
//   engine <- nn, data, stats <- model <- config <- train <- sample.ts <- sweep, dashboard <- cli
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

/** Rank of each unit of src/ (a top-level folder, or a file at the top). Equal ranks may not import each other. */
const RANK: Record<string, number> = {
  engine: 0, nn: 1, data: 1, stats: 1, model: 2, config: 3, train: 4, 'sample.ts': 5, sweep: 6, dashboard: 6, cli: 7,
};

/** The relative module paths a source file imports at run time (static and dynamic imports, re-exports). */
export function valueImports(source: string): string[] {
  const out: string[] = [];
  // import x from '...'; import { a, type B } from '...'; import * as x from '...'; export * from '...';
  // export { a } from '...' (braces may span lines); `import type` and all-`type` braces are skipped.
  for (const m of source.matchAll(/^[ \t]*(?:import|export)\s+(type\s+)?([^;'"]*?)\s+from\s+'([^']+)'/gm)) {
    if (m[1]) continue;
    const braces = /^\{([^}]*)\}$/.exec(m[2].trim());
    if (braces && braces[1].split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '))) continue;
    out.push(m[3]);
  }
  for (const m of source.matchAll(/^[ \t]*import\s+'([^']+)'/gm)) out.push(m[1]); // side effects only
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  return out.filter((p) => p.startsWith('.'));
}

function unitOf(file: string, srcDir: string): string {
  const rel = path.relative(srcDir, file).split(path.sep);
  return rel[0];
}

/** Every upward or sideways-across-units run-time import under srcDir, as "file -> target" lines. */
export function upwardImports(srcDir: string): string[] {
  const bad: string[] = [];
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
  for (const file of walk(srcDir)) {
    const from = unitOf(file, srcDir);
    for (const spec of valueImports(fs.readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      const to = unitOf(target, srcDir);
      if (to === from) continue;
      const rf = RANK[from], rt = RANK[to];
      if (rf === undefined || rt === undefined || rt >= rf) {
        bad.push(`${path.relative(srcDir, file)} -> ${spec} (${from} may not import ${to} at run time)`);
      }
    }
  }
  return bad;
}

test('valueImports tells run-time imports from type-only ones', () => {
  const src = [
    "import { a } from '../x.js';",
    "import type { B } from '../y.js';",
    "import { type C, type D } from '../z.js';",
    "import {\n  e,\n  type F,\n} from '../w.js';",
    "import * as fs from 'node:fs';",
    "export * from './v.js';",
    "export type { G } from './u.js';",
    "const m = await import('../t.js');",
  ].join('\n');
  assert.deepEqual(valueImports(src), ['../x.js', '../w.js', './v.js', '../t.js']);
});

test('upwardImports finds an upward import in a made-up tree', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'layers-'));
  try {
    for (const d of ['engine', 'nn', 'cli']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, 'engine', 'a.ts'), "import { v } from '../nn/b.js';\nimport type { T } from '../cli/c.js';\n");
    fs.writeFileSync(path.join(dir, 'nn', 'b.ts'), "import { a } from '../engine/a.js';\nexport const v = 1;\n");
    fs.writeFileSync(path.join(dir, 'cli', 'c.ts'), "import { v } from '../nn/b.js';\n");
    assert.deepEqual(upwardImports(dir), ['engine/a.ts -> ../nn/b.js (engine may not import nn at run time)']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('src/ imports only downward at run time (engine <- nn <- model <- config <- train <- sweep, dashboard <- cli)', () => {
  assert.deepEqual(upwardImports(path.join(ROOT, 'src')), []);
});
