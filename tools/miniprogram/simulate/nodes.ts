/**
 * What the DOM rendered by miniprogram-simulate does not show: the attributes a template gave a
 * native node (a `<button>`'s open-type), the data of the component that rendered a node (a
 * TDesign component's properties), and the keyboard's events on a native `<input>`.
 */

interface WxNode {
  _vt?: { attrs: { name: string; value: unknown }[] }
  ownerShadowRoot?: { getHostNode(): unknown } | null
}

interface Exparser {
  Element: { getMethodCaller(node: unknown): { data: Record<string, any> } | undefined }
  Event: { dispatchEvent(node: unknown, event: unknown): void; create(name: string, detail: unknown, options: unknown): unknown }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const exparser = () => require('miniprogram-exparser') as Exparser

function wxNode(el: Element): WxNode {
  const node = (el as Element & { __wxElement?: WxNode }).__wxElement
  if (!node) throw new Error('not a rendered mini-program node')
  return node
}

/** An attribute as the template set it on a native node, by its camelCase name (`openType`). */
export function nativeAttr(el: Element, name: string): unknown {
  return wxNode(el)._vt?.attrs.find((attr) => attr.name === name)?.value
}

/** The data (properties included) of the component whose template rendered `el`, e.g. the t-button around a `<button>`. */
export function ownerData(el: Element): Record<string, any> {
  const host = wxNode(el).ownerShadowRoot?.getHostNode()
  const caller = host ? exparser().Element.getMethodCaller(host) : undefined
  if (!caller) throw new Error('the node is not inside a component')
  return caller.data
}

/**
 * What the keyboard does to a native `<input>`: `input` while typing; `change` when the user picks
 * the WeChat nickname offered above a type="nickname" keyboard.
 */
export async function typeInto(el: Element, value: string, event: 'input' | 'change' = 'input'): Promise<void> {
  const ex = exparser()
  ex.Event.dispatchEvent(wxNode(el), ex.Event.create(event, { value, cursor: value.length }, { bubbles: false, composed: false }))
  await new Promise((resolve) => setTimeout(resolve, 0))
}
