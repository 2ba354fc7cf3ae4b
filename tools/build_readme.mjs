#!/usr/bin/env node
// README.md = docs/readme/*.md in name order, with docs/norms.md and docs/activations.md inlined
// where a part says <!-- include docs/NAME.md -->. Run after editing any of them:
//   node tools/build_readme.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'docs/readme');
const parts = fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort();
let text = parts.map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trimEnd()).join('\n\n') + '\n';
text = text.replace(/<!-- include (\S+) -->/g, (_, f) => {
  let body = fs.readFileSync(path.join(root, f), 'utf8').trimEnd();
  // docs/*.md start at '#' or '##'; inside the README every heading sits one level below '## '.
  const top = Math.min(...[...body.matchAll(/^(#+) /gm)].map((m) => m[1].length));
  const shift = 2 - top;
  if (shift > 0) body = body.replace(/^(#+) /gm, (m, h) => '#'.repeat(h.length + shift) + ' ');
  return body;
});
fs.writeFileSync(path.join(root, 'README.md'), text);
console.log(`README.md: ${text.split('\n').length} lines from ${parts.join(', ')}`);
