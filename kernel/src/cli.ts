import { Kernel } from "./kernel.js";
import type { Scope } from "./kernelspec/data-dir.js";
import { DISPLAY_NAME, install, uninstall } from "./kernelspec/install.js";

const USAGE = `usage:
  tsparallel install   [--user | --sys-prefix | --prefix PATH] [--name NAME]   write the "${DISPLAY_NAME}" kernelspec
  tsparallel uninstall [--user | --sys-prefix | --prefix PATH] [--name NAME]   remove it
  tsparallel kernel CONNECTION_FILE                                           run the kernel (what Jupyter starts)`;

function parseInstallArgs(args: string[]): { scope: Scope; name: string } {
  let scope: Scope = { kind: "user" };
  let name = "tsparallel";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (!next) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--user") scope = { kind: "user" };
    else if (arg === "--sys-prefix") scope = { kind: "sys-prefix" };
    else if (arg === "--prefix" || arg.startsWith("--prefix=")) scope = { kind: "prefix", prefix: value() };
    else if (arg === "--name" || arg.startsWith("--name=")) name = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (!/^[\w.-]+$/.test(name)) throw new Error(`kernel names may hold letters, digits, . _ and - only: ${JSON.stringify(name)}`);
  return { scope, name };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "install": {
      const report = await install(parseInstallArgs(args));
      console.log(`Installed the "${DISPLAY_NAME}" kernelspec in ${report.kernelDir}`);
      console.log(`Lab extension: ${report.labExtension}`);
      return 0;
    }
    case "uninstall": {
      const report = await uninstall(parseInstallArgs(args));
      console.log(`Removed the kernelspec ${report.kernelDir}`);
      console.log(`Lab extension: ${report.labExtension}`);
      return 0;
    }
    case "kernel": {
      if (!args[0]) throw new Error("kernel needs the connection file Jupyter wrote");
      await Kernel.start(args[0]);
      return -1;
    }
    case "-h":
    case "--help":
    case undefined:
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new Error(`unknown command ${command}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: Error) => {
    console.error(`tsparallel: ${err.message}`);
    process.exitCode = 1;
  },
);
