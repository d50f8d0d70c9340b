/** The cloud-storage security rule to deploy: the manifest's `storageRule` (cloudfunctions/_shared/collections.ts). */
import { type SecurityRule, storageRule } from '../../cloudfunctions/_shared/collections'

export function manifestStorageRule(): SecurityRule {
  return storageRule
}
