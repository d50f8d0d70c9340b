/**
 * How WeChat resolves npm-style paths, written once for the build (tools/miniprogram/subpackage-npm.ts)
 * and the page tests (test/miniprogram/harness/mount.ts). Paths are POSIX and relative to the
 * mini-program root; `isFile` answers for such a path.
 *
 * Read from miniprogram-ci's compiler (`resolveComponentPath2` for usingComponents, the code
 * analyser's resolver for `require`): a path that starts with `/` is from the root, one that starts
 * with `.` is from the referencing file's folder, and any other is tried from that folder first and
 * then in the `miniprogram_npm/` of that folder and of every folder above it, nearest first, ending
 * with the root's. So a subpackage's own `<root>/miniprogram_npm/` wins over the main package's.
 */
import path from 'node:path'

export type IsFile = (relativePath: string) => boolean

const posix = path.posix

/** `miniprogram_npm/<name>` in `fromDir` and each folder above it, nearest first. */
function npmCandidates(fromDir: string, name: string): string[] {
  const dirs = fromDir.split('/').filter(Boolean)
  const candidates: string[] = []
  for (let depth = dirs.length; depth > 0; depth--) candidates.push(posix.join(...dirs.slice(0, depth), 'miniprogram_npm', name))
  candidates.push(posix.join('miniprogram_npm', name))
  return candidates
}

/** Where a reference may point, in the order the compiler tries them (never outside the root). */
function bases(fromDir: string, target: string): string[] {
  if (target.startsWith('/')) return [posix.normalize(target.slice(1))]
  const local = posix.join(fromDir, target)
  const list = target.startsWith('.') ? [local] : [local, ...npmCandidates(fromDir, target)]
  return list.filter((base) => base !== '..' && !base.startsWith('../'))
}

/**
 * The component a `usingComponents` (or `componentGenerics` default) value names, as its path
 * without extension (`miniprogram_npm/tdesign-miniprogram/button/button`), or undefined. A
 * component is where both its `.json` and `.wxml` are; `x/index` is tried after `x`.
 */
export function resolveComponent(isFile: IsFile, fromDir: string, target: string): string | undefined {
  for (const base of bases(fromDir, target)) {
    for (const candidate of [base, posix.join(base, 'index')]) {
      if (isFile(`${candidate}.json`) && isFile(`${candidate}.wxml`)) return candidate
    }
  }
  return undefined
}

/**
 * The file a JS `import`/`require` names: the path as given, then with each extension, then its
 * `index` with each extension. `extensions` is `['.js']` for built npm code, `['.ts', '.js']` for
 * the project's own sources (DevTools compiles them).
 */
export function resolveModule(isFile: IsFile, fromDir: string, spec: string, extensions: readonly string[] = ['.js']): string | undefined {
  for (const base of bases(fromDir, spec)) {
    const candidates = [...extensions.map((ext) => `${base}${ext}`), ...extensions.map((ext) => posix.join(base, `index${ext}`))]
    if (extensions.some((ext) => base.endsWith(ext)) || base.endsWith('.json')) candidates.unshift(base)
    const found = candidates.find(isFile)
    if (found) return found
  }
  return undefined
}

/** A file that WXML (`<wxs>`, `<import>`, `<include>`), WXSS (`@import`) or WXS (`require`) names: relative or from the root only. */
export function resolveAsset(isFile: IsFile, fromDir: string, src: string, defaultExtension: string): string | undefined {
  const base = src.startsWith('/') ? posix.normalize(src.slice(1)) : posix.join(fromDir, src)
  if (base === '..' || base.startsWith('../')) return undefined
  return [base, `${base}${defaultExtension}`].find(isFile)
}
