export { Kernel } from "./kernel.js";
export { install, uninstall, kernelJson, DISPLAY_NAME } from "./kernelspec/install.js";
export { MIME_BUNDLE } from "./output/repr.js";
