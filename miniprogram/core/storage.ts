/**
 * Uploads a device file to cloud storage and returns its `cloud://` file ID, with the cloud client's
 * two transports: wx.cloud.uploadFile, or (local mode) wx.uploadFile to the local cloud's
 * `/storage/client-upload` route, the caller identified as for function calls.
 */
import { CloudError, cloudMode, localCloudHeaders, localCloudUrl } from './cloud'

export function uploadFile(cloudPath: string, tempFilePath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (err: { errMsg?: string }) => reject(new CloudError('NETWORK', err.errMsg ?? 'uploadFile failed', true))
    if (cloudMode() === 'cloud') {
      wx.cloud.uploadFile({ cloudPath, filePath: tempFilePath, success: (res) => resolve(res.fileID), fail })
      return
    }
    wx.uploadFile({
      url: `${localCloudUrl()}/storage/client-upload`,
      filePath: tempFilePath,
      name: 'file',
      formData: { cloudPath },
      header: localCloudHeaders(),
      success: (res) => {
        let fileID: unknown
        try {
          fileID = (JSON.parse(res.data) as { fileID?: unknown }).fileID
        } catch {
          // not JSON: an error page
        }
        if (res.statusCode === 200 && typeof fileID === 'string') resolve(fileID)
        else reject(new CloudError('FUNCTION_FAILED', `upload failed: HTTP ${res.statusCode}`, res.statusCode >= 500))
      },
      fail,
    })
  })
}
