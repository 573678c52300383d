import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { KernelInfo } from "../jupyter/messages.js";

const readVersion = (path: string): string => (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
export const KERNEL_VERSION = readVersion(new URL("../../package.json", import.meta.url).pathname);
/** Read from its package.json: importing the compiler itself takes most of a second, which kernel_info must not wait for. */
const TYPESCRIPT_VERSION = readVersion(createRequire(import.meta.url).resolve("typescript/package.json"));

export function kernelInfo(): KernelInfo {
  return {
    protocol_version: "5.3",
    implementation: "tsparallel",
    implementation_version: KERNEL_VERSION,
    language_info: {
      name: "typescript",
      version: TYPESCRIPT_VERSION,
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
      codemirror_mode: "typescript",
    },
    banner:
      `tsparallel ${KERNEL_VERSION}: TypeScript ${TYPESCRIPT_VERSION} on Node ${process.version}\n` +
      "Parallel cells: %px, %%px, %autopx, %pxresult, %pxconfig; clusters: %tspcluster start -n 4 | stop | status",
    help_links: [
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      { text: "Node.js API", url: "https://nodejs.org/docs/latest-v20.x/api/" },
    ],
    debugger: false,
  };
}
