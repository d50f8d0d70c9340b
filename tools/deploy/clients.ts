/**
 * The two official tools, made once per run from the configuration and the secrets:
 *  - @cloudbase/manager-node (Tencent Cloud API 3.0, TC3-signed with the API keys) for function
 *    configuration, triggers, collections, indexes, rules, storage rule and documents;
 *  - miniprogram-ci (WeChat's servicewechat.com, signed with the code-upload key, from an IP on the
 *    allow-list) for code upload, preview, function code and timer triggers.
 * Both go through `DEPLOY_PROXY` (or HTTPS_PROXY) when it is set: manager-node's `proxy` option,
 * miniprogram-ci's `ci.proxy()`. miniprogram-ci's `cloud.uploadFunction` sends the code itself
 * straight to scf.tencentcloudapi.com (with headers servicewechat.com signed) through the `request`
 * package, which ignores `ci.proxy()` and reads HTTPS_PROXY instead: that variable is set too.
 */
import CloudBase from '@cloudbase/manager-node'
import type { DeployConfig, Secrets } from './config'

type Ci = typeof import('miniprogram-ci')
export type CiProject = InstanceType<Ci['Project']>

export class MissingCredentialError extends Error {
  constructor(
    readonly credential: 'tencent-cloud' | 'upload-key',
    message: string,
  ) {
    super(message)
    this.name = 'MissingCredentialError'
  }
}

export const TENCENT_CLOUD_KEYS_MISSING =
  'Tencent Cloud API keys are not set (TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY, in the environment or .env.deploy): see docs/deploy.md#credentials.'
export const UPLOAD_KEY_MISSING =
  'The code-upload key is not set (MINIPROGRAM_CI_PRIVATE_KEY or MINIPROGRAM_CI_PRIVATE_KEY_PATH, or private.<appid>.key in the repository): see docs/deploy.md#credentials.'

export class Clients {
  private manager?: CloudBase
  private ci?: Ci

  constructor(
    readonly config: DeployConfig,
    readonly secrets: Secrets,
  ) {}

  get hasTencentCloud(): boolean {
    return Boolean(this.secrets.tencentCloud)
  }

  get hasUploadKey(): boolean {
    return Boolean(this.secrets.uploadKey)
  }

  requireManager(): CloudBase {
    const keys = this.secrets.tencentCloud
    if (!keys) throw new MissingCredentialError('tencent-cloud', TENCENT_CLOUD_KEYS_MISSING)
    this.manager ??= new CloudBase({
      secretId: keys.secretId,
      secretKey: keys.secretKey,
      ...(keys.token ? { token: keys.token } : {}),
      envId: this.config.envId,
      region: this.config.region,
      ...(this.secrets.proxy ? { proxy: this.secrets.proxy } : {}),
    })
    return this.manager
  }

  /** miniprogram-ci, loaded on first use (it takes a second and logs as it loads). */
  requireCi(): Ci {
    if (!this.secrets.uploadKey) throw new MissingCredentialError('upload-key', UPLOAD_KEY_MISSING)
    if (!this.ci) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      this.ci = require('miniprogram-ci') as Ci
      if (this.secrets.proxy) {
        this.ci.proxy(this.secrets.proxy)
        process.env.HTTPS_PROXY ??= this.secrets.proxy
      }
    }
    return this.ci
  }

  /** A miniprogram-ci project for `projectPath` (the repository, or a staged copy of it). */
  ciProject(projectPath: string, ignores: string[] = []): CiProject {
    const ci = this.requireCi()
    return new ci.Project({
      appid: this.config.appid,
      type: 'miniProgram',
      projectPath,
      privateKey: this.secrets.uploadKey!.pem,
      ignores,
    })
  }
}
