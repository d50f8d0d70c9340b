/**
 * A real local cloud for page tests, as its own process (`npm start`'s CLI with a temporary data
 * directory and the demo data): the pages under test reach it through wx.request over HTTP.
 */
import { type CloudProcess, startCloudProcess as start } from '../../../tools/local-cloud/client'
import { TEST_TIMEOUT_SCALE } from '../../helpers/timeouts'

export type { CloudProcess }

export function startCloudProcess(): Promise<CloudProcess> {
  return start({ prefix: 'mp-test-cloud-', seed: true, timeoutScale: TEST_TIMEOUT_SCALE })
}
