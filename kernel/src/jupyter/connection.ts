import { readFileSync } from "node:fs";

/** A Jupyter kernel connection file, as written by jupyter_client before it starts the kernel. */
export interface JupyterConnection {
  transport: "tcp" | "ipc";
  ip: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  kernel_name?: string;
}

export type ChannelName = "shell" | "iopub" | "stdin" | "control" | "hb";

export function readJupyterConnection(path: string): JupyterConnection {
  const value = JSON.parse(readFileSync(path, "utf8")) as Partial<JupyterConnection>;
  for (const field of ["ip", "transport", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const) {
    if (value[field] === undefined) throw new Error(`connection file ${path} lacks ${field}`);
  }
  const scheme = value.signature_scheme ?? "hmac-sha256";
  // Our envelope signs with HMAC-SHA256 only; an unsigned session (empty key) is allowed by the spec.
  if (value.key && scheme !== "hmac-sha256") throw new Error(`signature scheme ${scheme} is not supported (only hmac-sha256)`);
  return { ...(value as JupyterConnection), key: value.key ?? "", signature_scheme: scheme };
}

/** The address a socket of the given channel binds. ipc endpoints are `<ip>-<port>` files, as jupyter_client names them. */
export function channelUrl(conn: JupyterConnection, channel: ChannelName): string {
  const port = conn[`${channel}_port`];
  return conn.transport === "ipc" ? `ipc://${conn.ip}-${port}` : `tcp://${conn.ip}:${port}`;
}
