/** Native-node helpers live with the shared page renderer (the screenshot tool reads the same attributes). */
export * from '../../../tools/miniprogram/simulate/nodes'
