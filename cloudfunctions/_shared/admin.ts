/**
 * Who is an admin: OPENIDs listed in the function's environment variable ADMIN_OPENIDS (comma
 * separated; set it in the cloud console or config.json envVariables) or in the `app_config`
 * document `admins` ({ openids: [...] }), which an admin edits in the cloud console.
 */
import { collection } from './cloud'

function fromEnv(): string[] {
  return (process.env.ADMIN_OPENIDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export async function adminOpenids(): Promise<string[]> {
  const doc = await collection('app_config').get('admins')
  const listed = Array.isArray(doc?.openids) ? (doc.openids as unknown[]).filter((o): o is string => typeof o === 'string') : []
  return [...new Set([...fromEnv(), ...listed])]
}

export async function isAdmin(openid: string): Promise<boolean> {
  if (fromEnv().includes(openid)) return true
  return (await adminOpenids()).includes(openid)
}
