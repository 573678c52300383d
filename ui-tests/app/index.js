// The JupyterLab app: core plugins bundled here, prebuilt extensions taken from the shared scope
// (bootstrap.js loaded them), the same way JupyterLab's own build starts.
import { JupyterLab } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { extensions, mimeExtensions, disabledPlugins } from './.generated/core-plugins.js';
import './.generated/style.js';

function pluginsOf(module) {
  const exports = Object.prototype.hasOwnProperty.call(module, '__esModule') ? module.default : module;
  return (Array.isArray(exports) ? exports : [exports]).filter(
    plugin => !disabledPlugins.includes(plugin.id) && !PageConfig.Extension.isDisabled(plugin.id)
  );
}

async function federatedModule(scope, module) {
  const factory = await window._JUPYTERLAB[scope].get(module);
  return factory();
}

async function settledValues(promises) {
  const results = await Promise.allSettled(promises);
  return results.flatMap(r => {
    if (r.status === 'fulfilled') return [r.value];
    console.error(r.reason);
    return [];
  });
}

export async function main(federated) {
  const core = await settledValues(extensions.map(load => load()));
  const coreMime = await settledValues(mimeExtensions.map(load => load()));
  const external = await settledValues(
    federated.filter(ext => ext.extension).map(ext => federatedModule(ext.name, ext.extension))
  );
  const externalMime = await settledValues(
    federated.filter(ext => ext.mimeExtension).map(ext => federatedModule(ext.name, ext.mimeExtension))
  );
  await settledValues(federated.filter(ext => ext.style).map(ext => federatedModule(ext.name, ext.style)));

  const lab = new JupyterLab({ mimeExtensions: [...coreMime, ...externalMime].flatMap(pluginsOf) });
  lab.registerPlugins([...core, ...external].flatMap(pluginsOf));
  // Tests drive the app through it, as galata does.
  window.jupyterapp = lab;
  await lab.start();
  await lab.restored;
  document.body.dataset.labRestored = 'true';
}
