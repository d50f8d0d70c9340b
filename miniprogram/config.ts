/**
 * Where the mini-program's cloud calls go.
 *
 * - `local`: HTTP to the local cloud's gateway (`npm start`). Works with a test AppID and no cloud
 *   environment. In WeChat DevTools tick 详情 → 本地设置 → 不校验合法域名 (urlCheck is off in
 *   project.config.json); on a phone, start the local cloud with `--host 0.0.0.0` and put the LAN
 *   address and the access token it prints in `localCloudUrl` and `localCloudToken`.
 * - `cloud`: `wx.cloud.callFunction` against the WeChat Cloud environment `cloudEnv`.
 *
 * `build` (config.build.ts) is written by `npm run build` from deploy.config.json: the environment
 * id, and `release: true` in the builds `npm run release` and `npm run preview` upload, which must
 * use cloud mode (their pre-flight refuses a build that does not). To run DevTools against WeChat
 * Cloud, change `'local'` below to `'cloud'`. A release version also falls back to `cloud` at run
 * time (core/cloud.ts), whatever is set here.
 */
import { build } from './config.build'

export interface AppConfig {
  mode: 'local' | 'cloud'
  /** WeChat Cloud environment id (deploy.config.json `envId`; 云开发控制台 → 环境 ID). */
  cloudEnv: string
  localCloudUrl: string
  /** The local cloud's access token, needed off loopback (`npm start -- --host 0.0.0.0` prints it). */
  localCloudToken: string
  /** Per call, before a retry. */
  timeoutMs: number
}

export const config: AppConfig = {
  mode: build.release ? 'cloud' : 'local',
  cloudEnv: build.cloudEnv,
  localCloudUrl: 'http://127.0.0.1:8090',
  localCloudToken: '',
  timeoutMs: 8000,
}
