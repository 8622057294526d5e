/**
 * Builds the program the image ships (docs/design.md#the-shipped-bundle): `src/cli/main.ts` and
 * the production code it imports, bundled by esbuild into `dist/bundle/` (git-ignored).
 *
 *   node scripts/bundle.ts [OUT_DIR]      (npm run build runs it after tsc; run dist/bundle/main.mjs)
 *
 * Why a bundle: client-node's `KubeConfig` module imports the barrel of every generated API and
 * model, 25 MB of JavaScript whose source V8 keeps for the life of the process. Loading it took
 * the webhook from 92 MB of RSS at rest on a bindings file to 138 MB reading the same 10,000
 * bindings from a cluster; bundled, 120–130 MB. esbuild keeps only the classes idgate uses
 * (BENCHMARKS.md).
 * Each subcommand stays a chunk of its own, loaded when it runs (src/cli/program.ts), so the
 * sidecar (`idgate proxy`) never loads client-node at all.
 */
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const BUNDLE_DIR = 'dist/bundle';

/** esbuild's options for the bundle written to `outdir`. */
export function bundleOptions(outdir: string): BuildOptions & { metafile: true } {
  return {
    absWorkingDir: ROOT,
    entryPoints: ['src/cli/main.ts'],
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    // ES modules by their extension, so the bundle runs from any directory, package.json or not.
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Dynamic imports stay chunks loaded on demand: one per subcommand, and the controllers' client.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    minify: true,
    // Function and class names stay as written: they are what a stack trace or `err.name` shows.
    keepNames: true,
    // Mappings only (no sources): `node --enable-source-maps` turns a stack trace into src/ lines.
    sourcemap: 'linked',
    sourcesContent: false,
    // Optional packages required inside a try and done without: ws's native speed-ups, and the
    // colour detection of debug (under express), which only a devDependency installs here.
    external: ['bufferutil', 'utf-8-validate', 'supports-color'],
    // CommonJS packages bundled into ES modules still call require() for node's built-ins.
    banner: { js: "import { createRequire as __idgateCreateRequire } from 'node:module'; const require = __idgateCreateRequire(import.meta.url);" },
    // The bundled packages' license notices go to a `.LEGAL.txt` beside each chunk (shipped in the
    // image with it) instead of the chunk's end: one of them ("Jimmy Wärting", undici's) is not
    // ASCII, and node decodes a module source holding any non-ASCII character as a two-byte
    // string, so client-node's 2.4 MB chunk held 4.9 MB of memory for as long as the process ran.
    // esbuild already escapes every other non-ASCII character (its default charset, ASCII).
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  };
}

/** Bundles into `outdir` (relative to the repository root); returns esbuild's account of its inputs. */
export async function bundle(outdir: string = BUNDLE_DIR): Promise<Metafile> {
  // Chunks are named by their hash: without this, every earlier build's chunks would stay beside the new ones.
  await rm(join(ROOT, outdir), { recursive: true, force: true });
  const result = await build(bundleOptions(outdir));
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
  return result.metafile;
}

if (import.meta.main) {
  const outdir = process.argv[2] ?? BUNDLE_DIR;
  await bundle(outdir);
  process.stdout.write(`bundled src/cli/main.ts into ${outdir}/main.mjs\n`);
}
