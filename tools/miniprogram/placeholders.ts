/**
 * 分包异步化: a page or component may use a component of another subpackage (the main package's are
 * always there) only with a `componentPlaceholder` for it, which WeChat renders until that subpackage
 * has loaded. Without one the page fails to render on the device, yet the official compiler
 * (miniprogram-ci's whole-project compile) accepts the project: this is the check for it. A
 * placeholder must be there at once: a built-in component (`view`), or a custom component of the
 * same package or of the main package.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { resolveComponent } from './npm-resolve'
import { type AppJson, MINIPROGRAM_ROOT, ownFiles, packageOf, readAppJson } from './project'

const posix = path.posix

interface ComponentJson {
  usingComponents?: Record<string, unknown>
  componentPlaceholder?: Record<string, unknown>
}

/** Each use of another subpackage's component without a usable placeholder, as a sentence naming the file. */
export function checkPlaceholders(root = MINIPROGRAM_ROOT, app: AppJson = readAppJson(root)): string[] {
  const isFile = (rel: string) => existsSync(path.join(root, rel)) && statSync(path.join(root, rel)).isFile()
  const problems: string[] = []
  for (const file of ownFiles(root).filter((f) => f.endsWith('.json'))) {
    let json: ComponentJson
    try {
      json = JSON.parse(readFileSync(path.join(root, file), 'utf8')) as ComponentJson
    } catch {
      continue // not a page's or component's configuration (the compiler reports broken ones)
    }
    const using = json.usingComponents
    if (typeof using !== 'object' || using === null) continue
    const own = packageOf(file, app)
    const packageOfTag = (tag: string): string | undefined => {
      const target = using[tag]
      if (typeof target !== 'string' || target.startsWith('plugin://')) return undefined
      const base = resolveComponent(isFile, posix.dirname(file), target)
      return base === undefined ? undefined : packageOf(base, app)
    }
    for (const tag of Object.keys(using)) {
      const pkg = packageOfTag(tag)
      if (pkg === undefined || pkg === 'main' || pkg === own) continue
      const placeholder = json.componentPlaceholder?.[tag]
      if (typeof placeholder !== 'string' || placeholder === '') {
        problems.push(`${file}: "${tag}" is a component of ${pkg}, loaded after the page renders: give it a componentPlaceholder (e.g. "view")`)
        continue
      }
      const placeholderPkg = placeholder in using ? packageOfTag(placeholder) : 'main' // not in usingComponents: a built-in
      if (placeholderPkg !== 'main' && placeholderPkg !== own) {
        problems.push(`${file}: the placeholder of "${tag}", "${placeholder}", is a component of ${placeholderPkg ?? 'nowhere'}: a placeholder must be a built-in or of this package or the main package`)
      }
    }
  }
  return problems
}
