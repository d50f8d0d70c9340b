/**
 * The official compiler's output for a project (tools/miniprogram/ci.ts `compile`), run in a process
 * of its own because miniprogram-ci keeps handles open and logs to stdout: every emitted file with
 * its size, and the content of each emitted .json (where usingComponents are already resolved).
 *
 *   tsx test/helpers/compile-miniprogram.ts <project dir> <out.json> [<dir to write the output to>]
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { compile } from '../../tools/miniprogram/ci'
import { ROOT } from '../../tools/paths'

export interface Compiled {
  sizes: Record<string, number>
  json: Record<string, { usingComponents?: Record<string, string> }>
}

/** `writeTo`: also lay the compiled files out there, as the package a device runs. */
export function compileProject(projectPath: string, writeTo?: string): Compiled {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compiled-'))
  const out = path.join(dir, 'out.json')
  try {
    const run = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), __filename, projectPath, out, ...(writeTo ? [writeTo] : [])], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    })
    if (run.status !== 0) throw new Error(`compile failed (${run.status}): ${run.stderr.slice(-2000)}`)
    return JSON.parse(readFileSync(out, 'utf8')) as Compiled
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if ((require as { main?: unknown }).main === module) {
  const [projectPath, out, writeTo] = process.argv.slice(2)
  compile({ projectPath: path.resolve(projectPath!) }).then(
    (files) => {
      const result: Compiled = { sizes: {}, json: {} }
      for (const [file, content] of files) {
        result.sizes[file] = content.length
        if (writeTo) {
          mkdirSync(path.dirname(path.join(writeTo, file)), { recursive: true })
          writeFileSync(path.join(writeTo, file), content)
        }
        if (file.endsWith('.json')) result.json[file] = JSON.parse(content.toString('utf8')) as Compiled['json'][string]
      }
      writeFileSync(out!, JSON.stringify(result))
      process.exit(0)
    },
    (err: unknown) => {
      const e = err as { message?: string; path?: string }
      console.error(`${e.path ? `${e.path}: ` : ''}${e.message ?? String(err)}`)
      process.exit(1)
    },
  )
}
