/** Where `npm run build` writes the console's web app (gitignored with the rest of tools/local-cloud/.build). */
import path from 'node:path'
import { ROOT } from '../../paths'

export const CONSOLE_SOURCE = path.join(ROOT, 'tools/local-cloud/console/app')
export const CONSOLE_BUILD = path.join(ROOT, 'tools/local-cloud/.build/console')
