import { mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { dataDir, type Scope } from "./data-dir.js";

export const DISPLAY_NAME = "TypeScript (tsparallel)";
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "tsparallel.js");
/** Where the JupyterLab extension's installer lives, when the labextension package is installed. */
const LABEXTENSION_INSTALLER = "@tsparallel/labextension/install";

export interface InstallOptions {
  scope: Scope;
  name: string;
}

export interface InstallReport {
  kernelDir: string;
  labExtension: string;
}

interface LabExtensionInstaller {
  installLabExtension(dataDir: string): unknown;
  uninstallLabExtension(dataDir: string): unknown;
}

async function labExtensionInstaller(): Promise<LabExtensionInstaller | null> {
  try {
    const specifier = LABEXTENSION_INSTALLER;
    return (await import(specifier)) as LabExtensionInstaller;
  } catch {
    return null;
  }
}

/**
 * Memory settings for a process that builds a new type checker per cell: a small young generation
 * and two malloc arenas keep the resident size near the live heap. V8's optimizing compiler now and
 * then takes tens of megabytes in 32 KiB pieces for a large function of the checker and frees them;
 * in glibc's heap one live block above them keeps them resident for good (seen as a 40 MB step in
 * the RSS), so allocations from 32 KiB are mapped on their own and go back to the system when
 * freed. `npm run bench`'s kernel row: 332 MB after 1,000 cells before, about 180 MB with these.
 */
const NODE_FLAGS = ["--max-semi-space-size=8"];
const MEMORY_ENV = { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "32768", MALLOC_TRIM_THRESHOLD_: "131072" };

export function kernelJson(): Record<string, unknown> {
  return {
    // Absolute paths: Jupyter starts kernels with its own PATH, which may not hold this node.
    argv: [process.execPath, ...NODE_FLAGS, BIN, "kernel", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    // Interrupts arrive as control messages: a signal to the process group would also hit
    // the engines and controller of a cluster the notebook started.
    interrupt_mode: "message",
    env: MEMORY_ENV,
    metadata: { debugger: false },
  };
}

/** Writes the kernelspec (and the lab extension, when the labextension package provides one). */
export async function install(options: InstallOptions): Promise<InstallReport> {
  const data = dataDir(options.scope);
  const kernelDir = join(data, "kernels", options.name);
  mkdirSync(kernelDir, { recursive: true });
  writeFileSync(join(kernelDir, "kernel.json"), JSON.stringify(kernelJson(), null, 2) + "\n");
  const installer = await labExtensionInstaller();
  let labExtension = "skipped: the @tsparallel/labextension package is not installed";
  if (installer) {
    try {
      await installer.installLabExtension(data);
      labExtension = `installed into ${join(data, "labextensions")}`;
    } catch (err) {
      // The kernel is useful without the sidebar: install it and say why the panel was left out.
      labExtension = `skipped: ${(err as Error).message}`;
    }
  }
  return { kernelDir, labExtension };
}

export async function uninstall(options: InstallOptions): Promise<InstallReport> {
  const data = dataDir(options.scope);
  const kernelDir = join(data, "kernels", options.name);
  if (!existsSync(join(kernelDir, "kernel.json"))) throw new Error(`no kernelspec ${options.name} in ${join(data, "kernels")}`);
  rmSync(kernelDir, { recursive: true, force: true });
  const installer = await labExtensionInstaller();
  let labExtension = "skipped: the @tsparallel/labextension package is not installed";
  if (installer) {
    await installer.uninstallLabExtension(data);
    labExtension = `removed from ${join(data, "labextensions")}`;
  }
  return { kernelDir, labExtension };
}
