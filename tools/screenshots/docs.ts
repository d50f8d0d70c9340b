/**
 * `npm run screenshots:docs`: the main screens for docs/miniprogram.md, made small enough to
 * commit: the gallery's shots (screenshots/, made by `npm run screenshots`) at 1× (375 × 812,
 * averaging each 2 × 2 block) and quantized to a palette by upng-js.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PNG } from 'pngjs'
import { ROOT } from '../paths'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const UPNG = require('upng-js') as { encode(frames: ArrayBuffer[], w: number, h: number, colors: number): ArrayBuffer }

/** The states the docs show (docs/miniprogram.md's table). */
export const DOC_STATES = ['home', 'checkin', 'me', 'admin-overview', 'invite', 'feedback-form', 'home-privacy', 'home-onboarding-1']
const COLORS = 128

/** A 2× screenshot at 1×, quantized: a few tens of KB. */
export function docImage(shot: Buffer): Buffer {
  const src = PNG.sync.read(shot)
  const w = Math.floor(src.width / 2)
  const h = Math.floor(src.height / 2)
  const out = new Uint8Array(w * h * 4)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 4; c++) {
        const at = (dy: number, dx: number) => src.data[((2 * y + dy) * src.width + 2 * x + dx) * 4 + c]!
        out[(y * w + x) * 4 + c] = Math.round((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4)
      }
    }
  }
  return Buffer.from(UPNG.encode([out.buffer], w, h, COLORS))
}

if (require.main === module) {
  let total = 0
  for (const name of DOC_STATES) {
    const from = path.join(ROOT, 'screenshots', `${name}.png`)
    const to = path.join(ROOT, 'docs/screenshots', `${name}.png`)
    const image = docImage(readFileSync(from))
    writeFileSync(to, image)
    total += image.length
    console.log(`${path.relative(ROOT, to)} ${(image.length / 1024).toFixed(1)} KB`)
  }
  console.log(`${DOC_STATES.length} images, ${(total / 1024).toFixed(1)} KB`)
}
