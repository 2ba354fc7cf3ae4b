// A loopback npm registry for test/package.test.ts: it serves normlab's runtime dependency closure
// (package-lock.json's entries that are not dev-only and are installed in the repository's
// node_modules: the same versions `npm ci` put there), so that `npm install normlab-x.tgz` and
// `npm install -g normlab-x.tgz` run exactly as a user's would, with no network. Each dependency's
// tarball is its installed folder (minus nested node_modules) as `package/...`, the layout npm packs;
// its packument is the installed package.json plus `dist` (tarball URL, sha512 integrity, sha1).
// Anything else (a platform's optional package that is not installed here) is a 404, which npm
// treats as an optional dependency it cannot have, as the public registry's missing platform would be.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Registry {
  url: string;            // http://127.0.0.1:PORT/
  requests: string[];     // every path asked for, in order
  close(): Promise<void>;
}

interface Lock { packages: Record<string, { dev?: boolean; devOptional?: boolean }> }

/** The lock's runtime entries that are installed under root: their folders (node_modules/...). */
export function runtimeFolders(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !v.devOptional && existsSync(join(root, k, 'package.json')))
    .map(([k]) => join(root, k));
}

/** One ustar header (512 bytes) for a regular file; a name over 100 bytes is split into prefix/name. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.indexOf('/', name.length - 101);   // the name part (after the cut) fits in 100
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  h.write(name, 0);
  h.write('0000644\0', 100);                            // mode
  h.write('0000000\0', 108); h.write('0000000\0', 116);  // uid, gid
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);                        // mtime 0: the same bytes every time
  h.write('        ', 148);                             // checksum field counts as spaces
  h.write('0', 156);                                    // regular file
  h.write('ustar\u000000', 257);
  h.write(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** The folder's files (nested node_modules left out) as a gzipped tarball under package/. */
export function packFolder(folder: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(folder, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) { if (r !== 'node_modules') walk(r); continue; }
      if (!e.isFile()) continue;
      const data = readFileSync(join(folder, r));
      parts.push(tarHeader(`package/${r}`, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  };
  walk('');
  parts.push(Buffer.alloc(1024));                       // two zero blocks end the archive
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

/** Starts the registry on a free loopback port, serving the runtime closure of the checkout at root. */
export async function startRegistry(root: string): Promise<Registry> {
  const docs = new Map<string, { name: string; 'dist-tags': Record<string, string>; versions: Record<string, object> }>();
  const tarballs = new Map<string, Buffer>();           // '/-/<file>.tgz' -> bytes
  for (const folder of runtimeFolders(root)) {
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name: string; version: string };
    const data = packFolder(folder);
    const file = `/-/${manifest.name.replace('/', '-')}-${manifest.version}.tgz`;
    tarballs.set(file, data);
    const doc = docs.get(manifest.name) ?? { name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: {} };
    doc.versions[manifest.version] = { ...manifest, dist: { tarball: `REGISTRY${file}`, integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
      shasum: createHash('sha1').update(data).digest('hex') } };
    docs.set(manifest.name, doc);
  }
  const requests: string[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(url);
    const tgz = tarballs.get(url), doc = docs.get(url.slice(1));
    if (tgz) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tgz);
    } else if (doc) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc).replaceAll('REGISTRY/', `${base}/`));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return { url: `${base}/`, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
