/** The recording canvas lives with the shared page renderer (the screenshot tool replays its drawings). */
export * from '../../../tools/miniprogram/simulate/canvas'
