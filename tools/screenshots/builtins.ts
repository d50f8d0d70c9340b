/**
 * WeChat's built-in components as the screenshot shows them. miniprogram-simulate renders `<image>`,
 * `<input>`, `<button>`... as bare `wx-*` elements without their attributes and without the
 * styles the base library gives them. This file holds those default styles (the base library's
 * own values, for the "v1" look and for `"style": "v2"` in app.json) and turns a rendered node's
 * template attributes back into what a user sees: the image, the input's value or placeholder,
 * the button's type and size, `hidden`.
 */

/** The base library's defaults for the built-in components the pages and TDesign use. */
export const BUILTIN_CSS = `
wx-view, wx-scroll-view, wx-swiper, wx-swiper-item, wx-picker, wx-form, wx-navigator, wx-rich-text, wx-cover-view, wx-movable-area, wx-page-container, wx-root-portal { display: block; }
wx-text, wx-label { display: inline; }
wx-text { white-space: pre-line; }
wx-scroll-view { width: 100%; overflow: hidden; position: relative; }
wx-swiper { height: 150px; position: relative; overflow: hidden; }
wx-image { display: inline-block; overflow: hidden; width: 320px; height: 240px; position: relative; }
wx-image > img { display: block; width: 100%; height: 100%; }
wx-image[wx-mode="aspectFit"] > img { object-fit: contain; }
wx-image[wx-mode="aspectFill"] > img { object-fit: cover; }
wx-image[wx-mode="widthFix"] { height: auto; }
wx-image[wx-mode="widthFix"] > img { height: auto; }
wx-image[wx-mode="heightFix"] { width: auto; }
wx-image[wx-mode="heightFix"] > img { width: auto; }
wx-image[wx-mode="center"] > img { object-fit: none; }
wx-canvas { display: block; width: 300px; height: 150px; position: relative; }
wx-canvas > canvas { display: block; width: 100%; height: 100%; }
wx-input { display: block; height: 1.4rem; min-height: 1.4rem; overflow: hidden; text-overflow: clip; white-space: nowrap; cursor: auto; }
wx-input > .wx-value, wx-textarea > .wx-value { overflow: hidden; text-overflow: clip; }
wx-input > .wx-placeholder { color: gray; overflow: hidden; text-overflow: clip; }
wx-textarea { display: block; position: relative; width: 300px; height: 150px; cursor: auto; white-space: pre-wrap; word-break: break-word; }
wx-textarea > .wx-placeholder { color: gray; }
wx-textarea[wx-auto-height] { height: auto; min-height: 1.4em; }
wx-button { position: relative; display: block; margin-left: auto; margin-right: auto; padding-left: 14px; padding-right: 14px; box-sizing: border-box; font-size: 18px; text-align: center; text-decoration: none; line-height: 2.55555556; border-radius: 5px; overflow: hidden; color: #000; background-color: #f8f8f8; }
wx-button::after { content: " "; width: 200%; height: 200%; position: absolute; top: 0; left: 0; border: 1px solid rgba(0, 0, 0, 0.2); transform: scale(0.5); transform-origin: 0 0; box-sizing: border-box; border-radius: 10px; }
wx-button[wx-type="primary"] { color: #fff; background-color: #1aad19; }
wx-button[wx-type="warn"] { color: #fff; background-color: #e64340; }
wx-button[wx-size="mini"] { display: inline-block; line-height: 2.3; font-size: 13px; padding: 0 1.34em; }
wx-button[wx-plain] { color: #353535; border: 1px solid #353535; background-color: transparent; }
wx-button[wx-plain]::after { border-width: 0; }
wx-button[wx-disabled] { color: rgba(0, 0, 0, 0.3); }
wx-button[wx-disabled][wx-type="primary"] { color: rgba(255, 255, 255, 0.6); background-color: #9ed99d; }
wx-icon { display: inline-block; font-size: 0; }
[hidden] { display: none !important; }
`

/** What `"style": "v2"` in app.json changes (WeUI 2 buttons: 184 px wide unless mini, bold, no pressed state). */
export const BUILTIN_CSS_V2 = `
wx-button { width: 184px; padding: 8px 24px; font-weight: 700; font-size: 17px; line-height: 1.41176471; border-radius: 4px; color: #06ae56; background-color: #f2f2f2; }
wx-button[wx-type="primary"] { color: #fff; background-color: #07c160; }
wx-button[wx-size="mini"] { width: auto; padding: 0 0.75em; line-height: 2; font-size: 16px; }
wx-button[wx-disabled] { color: rgba(0, 0, 0, 0.18); background-color: #f2f2f2; }
`

interface WxNode {
  _vt?: { attrs: { name: string; value: unknown }[] }
}

/** The attributes a template set on a native node, by camelCase name. */
function templateAttrs(el: Element): Map<string, unknown> {
  const node = (el as Element & { __wxElement?: WxNode }).__wxElement
  return new Map((node?._vt?.attrs ?? []).map((a) => [a.name, a.value]))
}

const truthy = (v: unknown) => v === true || (typeof v === 'string' && v !== '' && v !== 'false') || (typeof v === 'number' && v !== 0)

/** The class prefix simulate gave the node's owner (`t-input` for `t-input--t-input__control`; `main` for the page). */
function ownerPrefix(el: Element): string {
  for (const c of el.classList) {
    const at = c.indexOf('--')
    if (at > 0) return c.slice(0, at)
  }
  return 'main'
}

/** A class list from a `*-class` attribute, prefixed as simulate prefixes the owner's classes. */
function prefixed(classes: unknown, prefix: string): string {
  return String(classes ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((c) => `${prefix}--${c}`)
    .join(' ')
}

export interface Reflection {
  /** Canvas nodes found, in document order (the clone's `<canvas data-canvas=N>`). */
  canvases: Element[]
}

/**
 * Reflects `live` (a rendered node) onto `out` (its clone, which will be serialized). Returns what
 * to do once the whole tree is walked (adding children would shift the parallel walk).
 */
export function reflect(live: Element, out: Element, result: Reflection, resolveSrc: (src: string) => string): (() => void) | null {
  const tag = live.tagName.toLowerCase()
  if (!tag.startsWith('wx-') && !tag.includes('-')) return null
  const attrs = templateAttrs(live)
  if (truthy(attrs.get('hidden'))) out.setAttribute('hidden', '')
  const doc = out.ownerDocument
  switch (tag) {
    case 'wx-image': {
      const src = String(attrs.get('src') ?? '')
      out.setAttribute('wx-mode', String(attrs.get('mode') ?? 'scaleToFill'))
      if (!src) return null
      return () => {
        const img = doc.createElement('img')
        img.setAttribute('src', resolveSrc(src))
        img.setAttribute('alt', '')
        out.appendChild(img)
      }
    }
    case 'wx-input':
    case 'wx-textarea': {
      const value = String(attrs.get('value') ?? '')
      const prefix = ownerPrefix(live)
      if (tag === 'wx-textarea' && truthy(attrs.get('autoHeight'))) out.setAttribute('wx-auto-height', '')
      return () => {
        const div = doc.createElement('div')
        if (value) {
          div.className = 'wx-value'
          div.textContent = truthy(attrs.get('password')) || attrs.get('type') === 'safe-password' ? '•'.repeat(value.length) : value
        } else {
          const placeholderClass = prefixed(attrs.get('placeholderClass'), prefix)
          div.className = `wx-placeholder ${placeholderClass || `${prefix}--input-placeholder`}`
          const style = String(attrs.get('placeholderStyle') ?? '')
          if (style) div.setAttribute('style', style)
          div.textContent = String(attrs.get('placeholder') ?? '')
        }
        out.appendChild(div)
      }
    }
    case 'wx-button': {
      for (const [name, data] of [['type', 'wx-type'], ['size', 'wx-size']] as const) {
        const v = attrs.get(name)
        if (typeof v === 'string' && v) out.setAttribute(data, v)
      }
      if (truthy(attrs.get('plain'))) out.setAttribute('wx-plain', '')
      if (truthy(attrs.get('disabled'))) out.setAttribute('wx-disabled', '')
      return null
    }
    case 'wx-canvas': {
      const index = result.canvases.length
      result.canvases.push(live)
      return () => {
        const canvas = doc.createElement('canvas')
        canvas.setAttribute('data-canvas', String(index))
        out.appendChild(canvas)
      }
    }
    default:
      return null
  }
}
