/* global __webpack_init_sharing__ __webpack_share_scopes__ */
// Prebuilt extensions must join the shared scope before any core package is imported, so that
// they and the app use one copy of each singleton (one @jupyterlab/application, one @lumino/widgets).

function pageOption(name) {
  const el = document.getElementById('jupyter-config-data');
  return el ? JSON.parse(el.textContent || '{}')[name] : undefined;
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.onerror = () => reject(new Error(`cannot load ${url}`));
    script.onload = resolve;
    script.async = true;
    document.head.appendChild(script);
    script.src = url;
  });
}

async function joinSharedScope(extension, labextensionsUrl) {
  await loadScript(`${labextensionsUrl}/${extension.name}/${extension.load}`);
  await __webpack_init_sharing__('default');
  await window._JUPYTERLAB[extension.name].init(__webpack_share_scopes__.default);
}

void (async function bootstrap() {
  const federated = pageOption('federated_extensions') || [];
  const labextensionsUrl = pageOption('fullLabextensionsUrl');
  const loaded = await Promise.allSettled(federated.map(ext => joinSharedScope(ext, labextensionsUrl)));
  loaded.forEach(result => {
    if (result.status === 'rejected') console.error(result.reason);
  });
  const { main } = await import('./index.js');
  await main(federated.filter((_, i) => loaded[i].status === 'fulfilled'));
})();
