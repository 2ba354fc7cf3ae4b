// No function in src/ is longer than about 60 lines without a reason written beside it
// (docs/readme/50-development.md): the body of every function, method, arrow function and
// constructor is counted with the TypeScript compiler's parser; one over LIMIT lines needs a comment
// just before it (its doc comment, or // lines) that says "Longer than 60 lines: <why>".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers.js';

const LIMIT = 60;
const REASON = /Longer than 60 lines: \S/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name))
    : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** The node whose leading comments speak for fn: its declaration statement, property or variable. */
function owner(fn: ts.Node): ts.Node {
  let n = fn;
  while (n.parent && (ts.isVariableDeclaration(n.parent) || ts.isVariableDeclarationList(n.parent) || ts.isVariableStatement(n.parent)
    || ts.isPropertyAssignment(n.parent) || ts.isParenthesizedExpression(n.parent) || ts.isExportAssignment(n.parent)
    || ts.isPropertyDeclaration(n.parent) || ts.isAsExpression(n.parent) || ts.isSatisfiesExpression(n.parent))) n = n.parent;
  return n;
}

/** "file:line name (N lines)" for each function body over LIMIT lines without a reason comment. */
export function longFunctions(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)
      || ts.isConstructorDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) && node.body && ts.isBlock(node.body)) {
      const first = sf.getLineAndCharacterOfPosition(node.body.getStart(sf)).line, last = sf.getLineAndCharacterOfPosition(node.body.end).line;
      const lines = last - first + 1;
      if (lines > LIMIT) {
        const o = owner(node);
        const comments = (ts.getLeadingCommentRanges(text, o.getFullStart()) ?? []).map((r) => text.slice(r.pos, r.end)).join('\n');
        const name = (node as { name?: ts.Node }).name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : '(anonymous)');
        if (!REASON.test(comments)) out.push(`${file}:${first + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

test('longFunctions finds a long function, an arrow and a method, and accepts one with its reason beside it', () => {
  const body = Array.from({ length: LIMIT + 1 }, (_, i) => `  x += ${i};`).join('\n');
  const text = `function big() {\n${body}\n}\nconst arrow = () => {\n${body}\n};\nclass K { m() {\n${body}\n} }\n` +
    `/** Longer than 60 lines: a table. */\nfunction told() {\n${body}\n}\n// Longer than 60 lines: one object.\nexport const o = () => {\n${body}\n};\n` +
    `function short() {\n  return 1;\n}\n`;
  assert.deepEqual(longFunctions('x.ts', text), [`x.ts:1 big (${LIMIT + 3} lines)`, `x.ts:${LIMIT + 4} arrow (${LIMIT + 3} lines)`,
    `x.ts:${2 * LIMIT + 7} m (${LIMIT + 3} lines)`]);
});

test(`no function in src/ is longer than ${LIMIT} lines without a reason written beside it`, () => {
  const found = sources(path.join(ROOT, 'src')).flatMap((f) => longFunctions(path.relative(ROOT, f), fs.readFileSync(f, 'utf8')));
  assert.deepEqual(found, [], `split these, or write "Longer than 60 lines: <why>" in the comment before each:\n${found.join('\n')}`);
});
