// `normlab dashboard [folder] [--port 8765] [--host 127.0.0.1]`: serve the results page for every run
// below a folder (default out/) until Ctrl-C. Loopback addresses only.
import { existsSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { isLoopbackHost, startDashboard } from '../dashboard/server.js';

export const DASHBOARD_HELP = `usage: normlab dashboard [folder] [--port 8765] [--host 127.0.0.1]

Serves a page at http://127.0.0.1:8765/ showing every run below folder (default: out):
loss curves (live while runs train; repeats over seeds as mean with a 95% band), a heat
map or bar chart of the varied flags with intervals, the results table, and per run its flags,
block layout, learned activation curves, kRMSNorm recompute share and a sample button.

  --port N     port to listen on (default 8765; 0 picks a free one)
  --host H     loopback address to bind (127.0.0.1, ::1 or localhost; default 127.0.0.1)
`;

interface DashArgs { folder: string; port: number; host: string; help: boolean }

export function parseDashboardArgs(argv: string[]): DashArgs {
  const a: DashArgs = { folder: 'out', port: 8765, host: '127.0.0.1', help: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') { a.help = true; continue; }
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (name !== 'port' && name !== 'host') throw new UserError(`unknown option --${name} for dashboard (allowed: --port, --host)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UserError(`--${name} needs a value`);
    if (name === 'port') {
      const p = Number(value);
      if (!/^\d+$/.test(value) || p > 65535) throw new UserError(`--port ${value}: expected an integer from 0 to 65535`);
      a.port = p;
    } else {
      if (!isLoopbackHost(value)) {
        throw new UserError(`--host ${value} is not a loopback address: the dashboard serves only this machine (use 127.0.0.1, ::1 or localhost; from another machine use an SSH tunnel: ssh -L 8765:127.0.0.1:8765 HOST)`);
      }
      a.host = value;
    }
  }
  if (positional.length > 1) throw new UserError(`dashboard takes one folder, got ${positional.length}: ${positional.join(' ')}`);
  if (positional.length === 1) a.folder = positional[0];
  return a;
}

export async function dashboardCommand(argv: string[]): Promise<number> {
  const a = parseDashboardArgs(argv);
  if (a.help) { process.stdout.write(DASHBOARD_HELP); return 0; }
  if (!existsSync(a.folder) || !statSync(a.folder).isDirectory()) {
    throw new UserError(`folder ${a.folder} does not exist: pass the folder that holds your runs (e.g. normlab dashboard out)`);
  }
  const dash = await startDashboard({ root: a.folder, host: a.host, port: a.port });
  // The handlers are in place before the address is printed (a supervisor may signal as soon as it
  // reads it). Nothing long runs on the event loop (docs/safety.md), so a signal is handled at once.
  const stopped = new Promise<void>((r) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); r(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`normlab dashboard: ${dash.url} (runs below ${a.folder}; Ctrl-C to stop)\n`);
  await stopped;
  await dash.close();
  return 0;
}
