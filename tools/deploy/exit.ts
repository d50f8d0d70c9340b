/**
 * Ends a deploy/release process once its output is written. miniprogram-ci keeps handles open, so
 * these commands must exit explicitly; process.exit() right away can cut off output still queued
 * for a pipe (CI logs).
 */
export function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}
