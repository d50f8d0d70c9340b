/**
 * The cloud-storage security rule to deploy: the manifest's `storageRule`
 * (cloudfunctions/_shared/collections.ts), null while the manifest has none.
 */
import * as manifest from '../../cloudfunctions/_shared/collections'
import type { SecurityRule } from '../../cloudfunctions/_shared/collections'

export function manifestStorageRule(): SecurityRule | null {
  return (manifest as { storageRule?: SecurityRule }).storageRule ?? null
}
