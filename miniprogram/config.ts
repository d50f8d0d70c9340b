/**
 * Where the mini-program's cloud calls go.
 *
 * - `local`: HTTP to the local cloud's gateway (`npm start`). Works with a test AppID and no cloud
 *   environment. In WeChat DevTools tick 详情 → 本地设置 → 不校验合法域名 (urlCheck is off in
 *   project.config.json); on a phone, start the local cloud with `--host 0.0.0.0` and put your
 *   computer's LAN address here.
 * - `cloud`: `wx.cloud.callFunction` against the WeChat Cloud environment `cloudEnv`.
 *
 * A release build always uses `cloud`, whatever is set here.
 */
export interface AppConfig {
  mode: 'local' | 'cloud'
  /** WeChat Cloud environment id (云开发控制台 → 环境 ID). */
  cloudEnv: string
  localCloudUrl: string
  /** Per call, before a retry. */
  timeoutMs: number
}

export const config: AppConfig = {
  mode: 'local',
  cloudEnv: 'your-env-id',
  localCloudUrl: 'http://127.0.0.1:8090',
  timeoutMs: 8000,
}
