// How numbers and tables are shown: src/util/format.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, csvLine, formatDuration, textTable } from '../src/util/format.js';

test('formatDuration: seconds, minutes, hours; none and nonsense', () => {
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(187), '3m07s');
  assert.equal(formatDuration(7500), '2h05m');
  assert.equal(formatDuration(null), '-');
  assert.equal(formatDuration(NaN), '?');
  assert.equal(formatDuration(-1), '?');
});

test('csv: quotes exactly the fields that need it, empty for none', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\r'), '"cr\r"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
  assert.equal(csvLine([1.5, 'x,y', null, 0]), '1.5,"x,y",,0');
});

test('textTable: number-looking columns right-aligned, rule under the header', () => {
  const t = textTable(['run', 'loss'], [['a', '1.5'], ['bbb', '10.25']]);
  assert.equal(t, ['run   loss', '---  -----', 'a      1.5', 'bbb  10.25'].join('\n'));
});

test('textTable: fixed left columns, no rule, no trailing spaces', () => {
  const t = textTable(['name', 'kind', 'n'], [['x', 'long kind', 7], ['yy', '', 123]], { left: 2, rule: false });
  assert.equal(t, ['name  kind         n', 'x     long kind    7', 'yy               123'].join('\n'));
});
