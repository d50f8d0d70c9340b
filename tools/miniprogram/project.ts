/** Facts about the mini-program project: its root, app.json, and which package a file belongs to. */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../paths'

export const MINIPROGRAM_ROOT = path.join(ROOT, 'miniprogram')
export const NPM_DIST = path.join(MINIPROGRAM_ROOT, 'miniprogram_npm')

export interface SubPackage {
  root: string
  name?: string
  pages: string[]
  independent?: boolean
}

export interface AppJson {
  pages: string[]
  subpackages?: SubPackage[]
  subPackages?: SubPackage[]
  usingComponents?: Record<string, string>
}

export function readAppJson(root = MINIPROGRAM_ROOT): AppJson {
  return JSON.parse(readFileSync(path.join(root, 'app.json'), 'utf8')) as AppJson
}

export function subpackagesOf(app: AppJson): SubPackage[] {
  return app.subpackages ?? app.subPackages ?? []
}

/** Every page path in app.json, subpackage pages prefixed with their root. */
export function allPages(app: AppJson): string[] {
  return [
    ...app.pages,
    ...subpackagesOf(app).flatMap((sub) => sub.pages.map((page) => `${sub.root.replace(/\/$/, '')}/${page}`)),
  ]
}

/** `main`, or the root of the subpackage that holds the file (a path relative to the mini-program root). */
export function packageOf(file: string, app: AppJson): string {
  const normalized = file.replace(/\\/g, '/').replace(/^\//, '')
  for (const sub of subpackagesOf(app)) {
    const root = sub.root.replace(/\/$/, '')
    if (normalized.startsWith(`${root}/`)) return root
  }
  return 'main'
}

/** The project's own files below `root` (every folder except npm output and dot folders), sorted, relative to it. */
export function ownFiles(root: string, dir = ''): string[] {
  return readdirSync(path.join(root, dir))
    .sort()
    .flatMap((name) => {
      if (name === 'miniprogram_npm' || name === 'node_modules' || name.startsWith('.')) return []
      const rel = dir ? `${dir}/${name}` : name
      return statSync(path.join(root, rel)).isDirectory() ? ownFiles(root, rel) : [rel]
    })
}
