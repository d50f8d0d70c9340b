/** The fake `wx` lives with the tools (the tracking benchmark drives the real tracker with it too). */
export * from '../../../tools/miniprogram/fake-wx'
