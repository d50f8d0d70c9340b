/**
 * Leaves the mini-program DevTools-ready: TDesign built into miniprogram_npm (DevTools' "构建 npm"),
 * its ES modules made CommonJS (commonjs-npm.ts), its icon stylesheet pruned to the icons in use,
 * then the components only one subpackage uses
 * moved into that subpackage's own miniprogram_npm.
 */
import { packNpm } from './ci'
import { commonJsNpm } from './commonjs-npm'
import { pruneIcons } from './icons'
import { describePlan, layoutSubpackageNpm } from './subpackage-npm'

export async function prepareMiniprogram(): Promise<string> {
  const npm = await packNpm()
  // Before the layout, whose copies and rewritten paths then read CommonJS.
  const modules = commonJsNpm()
  const icons = pruneIcons()
  // After pruning, so whatever a subpackage copies is already pruned.
  const subpackages = layoutSubpackageNpm()
  return [
    npm.built ? `built miniprogram_npm (${npm.packages} packages${npm.warnings.length ? `, ${npm.warnings.length} warnings` : ''})` : 'miniprogram_npm is current',
    `npm ES modules made CommonJS: ${modules.converted}${modules.entries ? ` (+${modules.entries} CommonJS files given a default export)` : ''}, tslib trimmed to ${modules.tslib.join(', ')}`,
    `TDesign icon rules: kept ${icons.kept} of ${icons.total} (${(icons.bytesBefore / 1024).toFixed(0)} KB -> ${(icons.bytesAfter / 1024).toFixed(1)} KB)`,
    describePlan(subpackages),
  ].join('; ')
}
