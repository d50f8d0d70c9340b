/**
 * Test clouds running the app's functions give them 10 times their configured timeout: on a loaded
 * 2-core machine (a second suite beside this one) a 10-second call can take longer, and there a
 * timeout only waits (how fast functions are is measured by `npm run bench:*`). The fixture
 * functions test the local cloud itself, timeouts included: they keep the cloud's own (scale 1).
 */
export const TEST_TIMEOUT_SCALE = 10
