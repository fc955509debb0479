() => {
  // Citation markers and listed sources in the chat are buttons valued "src/<turn>/<c|p>/<n>", and the panel's
  // "read the whole document" button "doc/<id>/<start>/<end>": a click hands the value to the hidden
  // #cite-target box, whose change event opens the passage server-side (the Chatbot drops data- attributes).
  const open = (target) => {
    const box = document.querySelector('#cite-target textarea, #cite-target input');
    if (!box) return;
    box.value = target + '|' + Date.now();  // the same source twice is still a change
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('click', (event) => {
    const link = event.target.closest('#conversation button.cite, #conversation button.source, '
                                      + '#source-panel button.open-document');
    if (link) {
      event.preventDefault();
      event.stopPropagation();
      document.querySelectorAll('#conversation .is-open').forEach((node) => node.classList.remove('is-open'));
      link.classList.add('is-open');
      open(link.value);
      return;
    }
    const copy = event.target.closest('#conversation button.copy-answer');
    if (copy) {
      event.preventDefault();
      event.stopPropagation();
      const card = copy.closest('.answer').cloneNode(true);
      card.querySelectorAll('.answer-actions, .badge').forEach((node) => node.remove());
      const plain = card.innerText.replace(/\n{3,}/g, '\n\n').trim();
      const done = () => { copy.classList.add('copied'); setTimeout(() => copy.classList.remove('copied'), 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(plain).then(done);
      } else {  // plain http on a LAN address: the clipboard API is unavailable, the old way still works
        const area = document.createElement('textarea');
        area.value = plain;
        document.body.appendChild(area);
        area.select();
        document.execCommand('copy');
        area.remove();
        done();
      }
    }
  }, true);

  // Gradio writes a few labels in English whatever the locale (they are not in its translations);
  // under the Chinese interface they are put in Chinese here, so screen readers do not switch language.
  const chinese = {
    'Copy conversation': '复制整个对话', 'Copied conversation': '已复制对话', 'Copy message': '复制这条消息',
    'Copied message': '已复制', 'Retry': '重新回答', 'Undo': '撤销', 'Like': '有帮助', 'Dislike': '没有帮助',
    'Edit': '编辑问题', 'Clear': '清空对话', 'Share': '分享', 'chatbot conversation': '对话记录', 'Submit': '提交',
    'Cancel': '取消', 'Reset to default value': '恢复默认值', 'Gradio footer navigation': '页脚导航',
    'Use via API': '通过 API 使用', 'Click to upload or drop files': '点击上传或拖入文件', 'Built with Gradio': '由 Gradio 构建', 'Settings': '设置',
  };
  const prefixes = [["user's message: ", '用户提问：'], ["bot's message: ", '助手回答：'], ['Select example ', '选择示例 '],
                    ['number input for ', '数值输入：'], ['range slider for ', '滑块：']];
  const translate = () => {
    const choice = document.querySelector('#interface-language input:checked');
    if (!choice || choice.value !== 'zh') return;
    document.querySelectorAll('[aria-label], button, footer a, footer span').forEach((node) => {
      const label = node.getAttribute('aria-label');
      if (label && chinese[label]) node.setAttribute('aria-label', chinese[label]);
      for (const [english, zh] of prefixes) {
        if (label && label.startsWith(english)) node.setAttribute('aria-label', zh + label.slice(english.length));
      }
      if (node.title && chinese[node.title]) node.title = chinese[node.title];
      if (node.children.length === 0 && chinese[node.textContent.trim()]) node.textContent = chinese[node.textContent.trim()];
    });
  };
  new MutationObserver(translate).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                           attributeFilter: ['aria-label', 'checked']});
}
