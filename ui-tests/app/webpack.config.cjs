// Builds the JupyterLab app into $TSP_APP_OUTPUT. Run by scripts/build-app.mjs, which first writes
// .generated/ (plugin list, shared-package versions); not meant to be run by hand.
const path = require('path');
const fs = require('fs');
const webpack = require('webpack');
const { merge } = require('webpack-merge');
const { Build } = require('@jupyterlab/builder');
const baseConfig = require('@jupyterlab/builder/lib/webpack.config.base');

const outputDir = process.env.TSP_APP_OUTPUT;
if (!outputDir) throw new Error('TSP_APP_OUTPUT is not set: run scripts/build-app.mjs');
const generated = path.join(__dirname, '.generated');
const packages = require('./lab-packages.json');
const core = JSON.parse(fs.readFileSync(path.join(outputDir, 'core', 'package.json'), 'utf8'));

const themeConfigs = Build.ensureAssets({
  packageNames: [...packages.extensions, ...packages.mimeExtensions],
  output: generated,
  schemaOutput: outputDir,
  themeOutput: outputDir
});

// Every core package is offered to prebuilt extensions; the singletons must never load twice.
const shared = {};
for (const [name, version] of Object.entries(core.resolutions)) {
  shared[name] = { requiredVersion: `^${version}`, singleton: core.jupyterlab.singletonPackages.includes(name) };
}

module.exports = [
  merge(baseConfig, {
    mode: 'development',
    devtool: false,
    entry: ['./publicpath.js', './bootstrap.js'],
    context: __dirname,
    output: { path: outputDir, filename: 'bundle.js', library: { type: 'var', name: ['_JUPYTERLAB', 'CORE_OUTPUT'] } },
    plugins: [
      new webpack.container.ModuleFederationPlugin({
        name: 'CORE_FEDERATION',
        library: { type: 'var', name: ['_JUPYTERLAB', 'CORE_LIBRARY_FEDERATION'] },
        shared
      })
    ]
  })
].concat(themeConfigs);
