/**
 * The 反馈 line at the end of every page (in the page's flow, so it covers nothing): opens the
 * feedback form with the route of the page it sits on (`page`), so the feedback says where the
 * user was. No TDesign: it is in the main package.
 */
Component({
  properties: { page: { type: String, value: '' } },
  methods: {
    open() {
      wx.navigateTo({ url: `/packages/feedback/form/index?from=${encodeURIComponent(this.data.page)}` })
    },
  },
})
