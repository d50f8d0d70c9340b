/**
 * Builds the console's web app (console/app: React + TDesign for the web) with esbuild into
 * tools/local-cloud/.build/console: index.html, app.js, app.css. Run by `npm run build` (and so by
 * `npm install` and `npm test`); the local cloud serves the result, no other server.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import * as esbuild from 'esbuild'
import { CONSOLE_BUILD, CONSOLE_SOURCE } from './paths'

export async function buildConsole(): Promise<{ dir: string; bytes: number }> {
  const result = await esbuild.build({
    entryPoints: { app: path.join(CONSOLE_SOURCE, 'main.tsx') },
    outdir: CONSOLE_BUILD,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    minify: true,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    // TDesign's styles name no remote fonts; anything they load is bundled.
    loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
    logLevel: 'warning',
    write: false,
    metafile: false,
  })
  mkdirSync(CONSOLE_BUILD, { recursive: true })
  let bytes = 0
  const files = [...result.outputFiles.map((f) => ({ path: f.path, contents: Buffer.from(f.contents) })), { path: path.join(CONSOLE_BUILD, 'index.html'), contents: readFileSync(path.join(CONSOLE_SOURCE, 'index.html')) }]
  for (const file of files) {
    bytes += file.contents.length
    // Only changed files are written: a running local cloud never serves one half rewritten.
    if (existsSync(file.path) && readFileSync(file.path).equals(file.contents)) continue
    writeFileSync(file.path, file.contents)
  }
  return { dir: CONSOLE_BUILD, bytes }
}
