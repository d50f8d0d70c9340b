/**
 * Test clouds give functions 10 times their configured timeout: on a loaded 2-core machine (a second
 * suite beside this one) a 10-second call can take longer, and there a timeout only waits (how fast
 * functions are is measured by `npm run bench:*`). Tests of the timeout itself pass
 * `timeoutScale: 1` (the cloud's own).
 */
export const TEST_TIMEOUT_SCALE = 10
