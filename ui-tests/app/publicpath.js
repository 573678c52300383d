// Chunks and assets are served under the server's static URL, known only at page load.
function pageOption(name) {
  const el = document.getElementById('jupyter-config-data');
  return el ? JSON.parse(el.textContent || '{}')[name] || '' : '';
}
// eslint-disable-next-line no-undef
__webpack_public_path__ = pageOption('fullStaticUrl') + '/';
