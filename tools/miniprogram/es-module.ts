/**
 * ES module or CommonJS, and the one-way conversion the npm build applies (commonjs-npm.ts); kept
 * apart from it so the page tests can check a compiled package without loading esbuild.
 */
import { parseSync, transformSync } from '@swc/core'

/** Whether the file has `import` or `export` declarations (parsed, not guessed). */
export function isEsModule(code: string): boolean {
  const ast = parseSync(code, { syntax: 'ecmascript', target: 'es2022' }) as unknown as { body: { type: string }[] }
  return ast.body.some((node) => node.type.startsWith('Import') || node.type.startsWith('Export'))
}

/** An ES module as CommonJS, syntax untouched (ES2020 output), minified. */
export function toCommonJs(code: string): string {
  return transformSync(code, {
    jsc: { target: 'es2020', parser: { syntax: 'ecmascript' }, minify: { compress: true, mangle: true } },
    // Default imports read `.default`: every converted module has it, and CommonJS entries get it below.
    module: { type: 'commonjs', noInterop: true },
    minify: true,
    isModule: true,
  }).code
}
