#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
if (process.env.NORMLAB_EXIT_WITH_PARENT === '1') {
  // A queue worker's training child: its stdin is a pipe from the worker, which closes when the
  // worker dies (even by SIGKILL). Stop then, so no orphan keeps writing into the run folder.
  process.stdin.on('end', () => process.exit(137));
  process.stdin.on('error', () => process.exit(137));
  process.stdin.resume();
  process.stdin.unref?.();
}
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
