/**
 * The page tests' mount: tools/miniprogram/simulate/mount.ts (shared with the screenshot tool)
 * bound to jest — each mount gets a fresh module registry (jest.resetModules), and whatever pages
 * a test file leaves attached are unmounted after it.
 */
import { type Mounted as AnyMounted, type MountOptions, mountPageWith, unmountAll } from '../../../tools/miniprogram/simulate/mount'

export { attach, loadPage, MP_ROOT, type MountOptions, type SimWrapper } from '../../../tools/miniprogram/simulate/mount'

/** A mounted page of the project's mini-program, whose cloud client is always there. */
export type Mounted = Omit<AnyMounted, 'cloud'> & { cloud: typeof import('../../../miniprogram/core/cloud') }

afterAll(() => unmountAll())

export async function mountPage(pagePath: string, options: MountOptions): Promise<Mounted> {
  const m = await mountPageWith(() => jest.resetModules(), pagePath, options)
  if (!m.cloud) throw new Error(`${pagePath}: no core/cloud in ${options.root ?? 'the mini-program root'}`)
  return m as unknown as Mounted
}
