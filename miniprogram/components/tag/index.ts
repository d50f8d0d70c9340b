/**
 * A small light tag (a status, a reward, a topic), drawn as TDesign's t-tag draws
 * `size="small" variant="light"` (same `--td-tag-*` tokens and sizes). Only subpackages use it, and
 * t-tag (12 KB, mostly styles for every size, shape and variant) could only sit in the main package,
 * shared by them; this is a few hundred bytes there.
 */
Component({
  options: { virtualHost: true },
  properties: {
    /** primary, success, warning or default (the TDesign themes the pages use). */
    theme: { type: String, value: 'default' },
  },
})
