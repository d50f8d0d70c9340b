/**
 * Moves npm components (TDesign) that only one subpackage uses out of the main package.
 *
 * `packNpm` (DevTools' "构建 npm") puts every npm package in `miniprogram/miniprogram_npm/`, which
 * belongs to the main package. The compiler ships only what something references, but a component
 * that only a subpackage page references still lands there, so every user downloads it at launch.
 * WeChat resolves an npm-style path from the referencing file's folder upwards (npm-resolve.ts), so
 * a subpackage may carry its own `<root>/miniprogram_npm/`, and its pages find it first.
 *
 * The rule, per file of the root's miniprogram_npm (a component's files always go together):
 * - reached, through any chain of references, by the main package or by several subpackages: it
 *   stays in the root, the only copy;
 * - reached by exactly one subpackage: it moves there, to the same path under `<root>/miniprogram_npm/`.
 *   Its references to files that stay in the root (TDesign's `common/` code, tslib, shared components
 *   such as t-icon) are rewritten to relative paths into the main package, which a subpackage may
 *   require and use: no code is duplicated and every module keeps one instance (TDesign's config
 *   store is module state). Templates, WXS and styles it imports are copied instead: they are small,
 *   and their imports then stay inside the subpackage;
 * - an independent subpackage cannot use main-package files: it gets a full copy of what it reaches.
 *
 * The root's miniprogram_npm stays complete (the compiler leaves out what nothing references), so
 * `packNpm` never rebuilds because of this. The subpackage copies are generated and gitignored.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { resolveAsset, resolveComponent, resolveModule, type IsFile } from './npm-resolve'
import { type AppJson, MINIPROGRAM_ROOT, ownFiles, packageOf, readAppJson, subpackagesOf } from './project'

const posix = path.posix
const NPM = 'miniprogram_npm'

/** A file's reference to another file, as written in it. */
export interface Reference {
  kind: 'component' | 'module' | 'asset'
  target: string
  /** For assets written without one (`<import src="./x">`, `@import "x"`). */
  extension?: string
  /** A reference that must resolve (every import of npm code does; a relation-like string may not). */
  required: boolean
}

// Minified ES modules and CommonJS alike: `import{a}from"x"`, `export*from"x"`, `import"x"`, `require("x")`.
const IMPORT_FROM = /(?:^|[^\w$.])(?:import|export)\s*(type\s)?[^'";]*?\bfrom\s*(['"])([^'"\n]+)\2/g
const IMPORT_BARE = /(?:^|[^\w$.])import\s*(['"])([^'"\n]+)\1/g
const REQUIRE = /(?:^|[^\w$.])require\(\s*(['"])([^'"\n]+)\1\s*\)/g
// Keys of `relations` ("../tab-panel/tab-panel") are plain relative strings in component code.
const RELATIVE_STRING = /(['"])(\.\.?\/[^'"\n]+)\1/g
const WXML_SRC = /<(wxs|import|include)\b[^>]*?\bsrc\s*=\s*(['"])([^'"]+)\2/g
const WXSS_IMPORT = /@import\s+(['"])([^'"]+)\1/g

/** Every reference written in a file, by its type. `npmCode` marks built npm code, whose references must all resolve. */
export function referencesIn(file: string, content: string, npmCode: boolean): Reference[] {
  const refs: Reference[] = []
  const ext = posix.extname(file)
  if (ext === '.json') {
    let json: { usingComponents?: Record<string, unknown>; componentGenerics?: Record<string, unknown> }
    try {
      json = JSON.parse(content) as typeof json
    } catch (err) {
      throw new Error(`${file}: invalid JSON (${(err as Error).message})`)
    }
    for (const target of Object.values(json.usingComponents ?? {})) {
      if (typeof target === 'string' && !target.startsWith('plugin://')) refs.push({ kind: 'component', target, required: npmCode })
    }
    for (const generic of Object.values(json.componentGenerics ?? {})) {
      const target = (generic as { default?: unknown } | null)?.default
      if (typeof target === 'string') refs.push({ kind: 'component', target, required: npmCode })
    }
  } else if (ext === '.js' || ext === '.ts') {
    for (const m of content.matchAll(IMPORT_FROM)) if (!m[1]) refs.push({ kind: 'module', target: m[3]!, required: npmCode })
    for (const m of content.matchAll(IMPORT_BARE)) refs.push({ kind: 'module', target: m[2]!, required: npmCode })
    for (const m of content.matchAll(REQUIRE)) refs.push({ kind: 'module', target: m[2]!, required: npmCode })
    if (npmCode) for (const m of content.matchAll(RELATIVE_STRING)) refs.push({ kind: 'component', target: m[2]!, required: false })
  } else if (ext === '.wxml') {
    for (const m of content.matchAll(WXML_SRC)) {
      if (!m[3]!.includes('{{')) refs.push({ kind: 'asset', target: m[3]!, extension: m[1] === 'wxs' ? '.wxs' : '.wxml', required: npmCode })
    }
  } else if (ext === '.wxss') {
    for (const m of content.matchAll(WXSS_IMPORT)) refs.push({ kind: 'asset', target: m[2]!, extension: '.wxss', required: npmCode })
  } else if (ext === '.wxs') {
    for (const m of content.matchAll(REQUIRE)) refs.push({ kind: 'asset', target: m[2]!, extension: '.wxs', required: npmCode })
  }
  return refs
}

/** The mini-program's files, read once, with the generated subpackage copies hidden (planning sees the pristine layout). */
class ProjectFiles {
  private readonly contents = new Map<string, string>()
  private readonly stats = new Map<string, boolean>()
  readonly isFile: IsFile

  constructor(
    readonly root: string,
    private readonly hidden: string[],
  ) {
    this.isFile = (rel) => {
      if (this.hidden.some((prefix) => rel.startsWith(prefix))) return false
      let known = this.stats.get(rel)
      if (known === undefined) {
        const full = path.join(root, rel)
        known = existsSync(full) && statSync(full).isFile()
        this.stats.set(rel, known)
      }
      return known
    }
  }

  read(rel: string): string {
    let content = this.contents.get(rel)
    if (content === undefined) {
      content = readFileSync(path.join(this.root, rel), 'utf8')
      this.contents.set(rel, content)
    }
    return content
  }

}

/** The files that can reference others (images and the like cannot). */
const SOURCE_EXTENSIONS = new Set(['.json', '.js', '.ts', '.wxml', '.wxss', '.wxs'])

const COMPONENT_FILES = ['.json', '.wxml', '.js', '.ts', '.wxss']

/** A reference as the compiler resolves it: `target` is the file, or the component's path without extension. */
interface Resolved {
  ref: Reference
  target: string
  files: string[]
}

const isNpmFile = (rel: string) => rel.startsWith(`${NPM}/`)

/** The graph of references between the mini-program's files, resolved once per file. */
class References {
  private readonly edges = new Map<string, Resolved[]>()

  constructor(readonly files: ProjectFiles) {}

  /** `file` and, when it is one of a component's (`x.json`, `x.wxml`, `x.wxs`...), the component's own files. */
  componentOf(file: string): string[] {
    const base = file.slice(0, -posix.extname(file).length)
    if (!this.files.isFile(`${base}.json`) || !this.files.isFile(`${base}.wxml`)) return [file]
    return [...new Set([file, ...COMPONENT_FILES.map((ext) => `${base}${ext}`).filter(this.files.isFile)])]
  }

  resolve(fromDir: string, ref: Reference, sourceExtensions: readonly string[]): Resolved | undefined {
    const { isFile } = this.files
    if (ref.kind === 'component') {
      const base = resolveComponent(isFile, fromDir, ref.target)
      return base === undefined ? undefined : { ref, target: base, files: this.componentOf(`${base}.json`) }
    }
    const found =
      ref.kind === 'module' ? resolveModule(isFile, fromDir, ref.target, sourceExtensions) : resolveAsset(isFile, fromDir, ref.target, ref.extension ?? '')
    return found === undefined ? undefined : { ref, target: found, files: [found] }
  }

  /** What a file of the root's miniprogram_npm references; every import of its must resolve. */
  of(file: string): Resolved[] {
    let edges = this.edges.get(file)
    if (!edges) {
      edges = []
      for (const ref of referencesIn(file, this.files.read(file), true)) {
        const resolved = this.resolve(posix.dirname(file), ref, ['.js'])
        if (resolved) edges.push(resolved)
        else if (ref.required) throw new Error(`${file}: cannot resolve ${ref.kind} "${ref.target}"`)
      }
      this.edges.set(file, edges)
    }
    return edges
  }

  /** Every file of the root's miniprogram_npm that `start` needs, itself included. */
  closure(start: Iterable<string>): Set<string> {
    const seen = new Set<string>()
    const queue = [...start].flatMap((file) => this.componentOf(file))
    while (queue.length > 0) {
      const file = queue.pop()!
      if (seen.has(file)) continue
      seen.add(file)
      for (const edge of this.of(file)) for (const next of edge.files) if (isNpmFile(next) && !seen.has(next)) queue.push(...this.componentOf(next))
    }
    return seen
  }
}

export interface SubpackageNpm {
  /** Subpackage root, e.g. `packages/admin`. */
  root: string
  independent: boolean
  /** Components that leave the main package for this subpackage, e.g. `tdesign-miniprogram/calendar/calendar` (for an independent one: every component it gets). */
  moved: string[]
  /** Every file written under `<root>/miniprogram_npm/`, relative to it. */
  files: string[]
  /** The files among them that the main package keeps too (templates, WXS and styles the moved ones import). */
  copied: string[]
  /** Per file, the references rewritten to point into the main package: written value → new value. */
  rewrites: Record<string, Record<string, string>>
  /** Bytes that leave the main package (unminified sources); for an independent subpackage, of its whole copy. */
  bytes: number
}

export interface SubpackageNpmPlan {
  subpackages: SubpackageNpm[]
  /** Files of the root's miniprogram_npm that the main package reaches, relative to it. */
  mainFiles: string[]
}

/** Top-level packages of the root's miniprogram_npm: the folders this owns in a subpackage's miniprogram_npm. */
function npmPackages(root: string): string[] {
  const dir = path.join(root, NPM)
  return existsSync(dir) ? readdirSync(dir).filter((name) => statSync(path.join(dir, name)).isDirectory()).sort() : []
}

const rootOf = (sub: { root: string }) => sub.root.replace(/^\/|\/$/g, '')
const inNpm = (file: string) => file.slice(NPM.length + 1)

/**
 * What a subpackage gets: `exclusive` moves; what it references that stays in the root is pointed at
 * there (code, components) or copied (templates, WXS, styles). An independent subpackage copies all.
 */
function subpackageNpm(graph: References, sub: { root: string; independent?: boolean }, exclusive: Set<string>): SubpackageNpm {
  const root = rootOf(sub)
  const local = new Set(exclusive)
  const copied = new Set<string>()
  const rewrites: Record<string, Record<string, string>> = {}
  const queue = [...exclusive].sort()
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!
    for (const edge of graph.of(file)) {
      if (edge.files.every((f) => local.has(f))) continue
      if (edge.ref.kind === 'asset' || sub.independent) {
        for (const f of edge.files) {
          if (local.has(f)) continue
          local.add(f)
          copied.add(f)
          queue.push(f)
        }
        continue
      }
      // Stays in the main package: the same file, reached by a relative path from the copy's folder.
      let to = posix.relative(posix.join(root, posix.dirname(file)), edge.target)
      if (edge.ref.kind === 'module' && !edge.ref.target.endsWith('.js')) to = to.replace(/\.js$/, '')
      const forFile = (rewrites[inNpm(file)] ??= {})
      const earlier = forFile[edge.ref.target]
      if (earlier !== undefined && earlier !== to) throw new Error(`${file}: "${edge.ref.target}" names two different files`)
      forFile[edge.ref.target] = to
    }
  }
  const files = [...local].sort()
  return {
    root,
    independent: sub.independent === true,
    moved: files
      .filter((file) => file.endsWith('.json') && !copied.has(file) && graph.componentOf(file).length > 1)
      .map((file) => inNpm(file).slice(0, -'.json'.length)),
    files: files.map(inNpm),
    copied: [...copied].sort().map(inNpm),
    rewrites,
    bytes: [...exclusive].reduce((sum, file) => sum + statSync(path.join(graph.files.root, file)).size, 0),
  }
}

/** Decides, without writing anything, what each subpackage gets. */
export function planSubpackageNpm(root = MINIPROGRAM_ROOT, app: AppJson = readAppJson(root)): SubpackageNpmPlan {
  const subs = subpackagesOf(app)
  const owned = npmPackages(root)
  const files = new ProjectFiles(
    root,
    subs.flatMap((sub) => owned.map((pkg) => `${rootOf(sub)}/${NPM}/${pkg}/`)),
  )
  const graph = new References(files)

  // What each package's own files (pages, components, scripts, styles) name in miniprogram_npm.
  const direct = new Map<string, Set<string>>([['main', new Set()], ...subs.map((sub) => [rootOf(sub), new Set<string>()] as const)])
  for (const file of ownFiles(root).filter((f) => SOURCE_EXTENSIONS.has(posix.extname(f)))) {
    const targets = direct.get(packageOf(file, app))!
    for (const ref of referencesIn(file, files.read(file), false)) {
      for (const found of graph.resolve(posix.dirname(file), ref, ['.ts', '.js'])?.files ?? []) if (isNpmFile(found)) targets.add(found)
    }
  }
  const reach = new Map([...direct].map(([name, start]) => [name, graph.closure(start)]))

  const plan: SubpackageNpmPlan = { subpackages: [], mainFiles: [...reach.get('main')!].sort().map(inNpm) }
  for (const sub of subs) {
    const name = rootOf(sub)
    const mine = reach.get(name)!
    // Independent subpackages share nothing with the others, so what they use does not hold files in the root.
    const others = [...reach].filter(([other]) => other !== name && !subs.some((s) => rootOf(s) === other && s.independent)).map(([, set]) => set)
    const exclusive = sub.independent ? mine : new Set([...mine].filter((file) => !others.some((set) => set.has(file))))
    if (exclusive.size > 0) plan.subpackages.push(subpackageNpm(graph, sub, exclusive))
  }
  return plan
}

/** Rewrites each quoted occurrence of the written values; every one must occur. */
function rewrite(file: string, content: string, replacements: Record<string, string>): string {
  let out = content
  for (const [from, to] of Object.entries(replacements)) {
    let count = 0
    for (const quote of ['"', "'"]) {
      const parts = out.split(`${quote}${from}${quote}`)
      count += parts.length - 1
      out = parts.join(`${quote}${to}${quote}`)
    }
    if (count === 0) throw new Error(`${file}: "${from}" not found to rewrite`)
  }
  return out
}

/**
 * Writes the plan: each subpackage's `<root>/miniprogram_npm/<package>/` is replaced by exactly its
 * files (removed when it gets none). Other folders a subpackage's miniprogram_npm may hold are left alone.
 */
export function layoutSubpackageNpm(root = MINIPROGRAM_ROOT, app: AppJson = readAppJson(root)): SubpackageNpmPlan {
  const plan = planSubpackageNpm(root, app)
  const owned = npmPackages(root)
  for (const sub of subpackagesOf(app)) {
    const dir = path.join(root, rootOf(sub), NPM)
    for (const pkg of owned) rmSync(path.join(dir, pkg), { recursive: true, force: true })
    if (existsSync(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true })
  }
  for (const sub of plan.subpackages) {
    for (const file of sub.files) {
      const source = path.join(root, NPM, file)
      const target = path.join(root, sub.root, NPM, file)
      mkdirSync(path.dirname(target), { recursive: true })
      const replacements = sub.rewrites[file]
      if (replacements) writeFileSync(target, rewrite(file, readFileSync(source, 'utf8'), replacements))
      else copyFileSync(source, target)
    }
  }
  return plan
}

/** One line for the build log. */
export function describePlan(plan: SubpackageNpmPlan): string {
  if (plan.subpackages.length === 0) return 'npm components: none is used by one subpackage only'
  const one = (sub: SubpackageNpm) => {
    const names = sub.moved.map((c) => posix.basename(c)).join(', ')
    const kb = (sub.bytes / 1024).toFixed(1)
    return sub.independent ? `${sub.root} (independent, its own copy of ${names}: ${kb} KB)` : `${sub.root} (${names}: ${kb} KB out of the main package)`
  }
  return `npm components moved to subpackages: ${plan.subpackages.map(one).join('; ')}`
}
