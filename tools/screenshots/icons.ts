/**
 * TDesign's icons for the screenshots. Its icon font loads from a CDN and is not in the npm
 * package; `@iconify-json/tdesign` has every glyph as SVG. Each `t-icon-<name>` class on the page
 * (as simulate prefixed it: `t-icon--t-icon-add`) gets a rule drawing that SVG as a mask in the
 * text color, at 1em, where the font's glyph would be.
 */
import { createRequire } from 'node:module'

interface IconSet {
  icons: Record<string, { body: string; width?: number; height?: number }>
  aliases?: Record<string, { parent: string }>
  width?: number
  height?: number
}

let set: IconSet | undefined
const load = (): IconSet => (set ??= createRequire(__filename)('@iconify-json/tdesign/icons.json') as IconSet)

function svgOf(name: string): string | null {
  const icons = load()
  const icon = icons.icons[name] ?? (icons.aliases?.[name] ? icons.icons[icons.aliases[name]!.parent] : undefined)
  if (!icon) return null
  const w = icon.width ?? icons.width ?? 24
  const h = icon.height ?? icons.height ?? 24
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}">${icon.body}</svg>`
}

const ICON_CLASS = /^(?:[a-z0-9-]+?--)?t-icon-([a-z0-9][a-z0-9-]*)$/

/** CSS for every TDesign icon class used in `root`; names without a glyph are listed in `missing`. */
export function iconCss(root: Element): { css: string; missing: string[] } {
  const rules = new Map<string, string>()
  const missing = new Set<string>()
  for (const el of root.querySelectorAll('[class*="t-icon-"]')) {
    for (const cls of el.classList) {
      const name = ICON_CLASS.exec(cls)?.[1]
      if (!name || name === 'base' || rules.has(cls)) continue
      const svg = svgOf(name)
      if (!svg) {
        missing.add(name)
        continue
      }
      const url = `url("data:image/svg+xml;utf8,${encodeURIComponent(svg)}")`
      rules.set(cls, `.${cls}::before{content:""!important;display:block;width:1em;height:1em;background-color:currentColor;-webkit-mask:${url} center/contain no-repeat;mask:${url} center/contain no-repeat}`)
    }
  }
  return { css: [...rules.values()].join('\n'), missing: [...missing] }
}
