import { randomUUID } from "node:crypto";
import type { MimeBundle } from "../jupyter/messages.js";
import type { IOPub } from "../output/iopub.js";
import { mimeBundle, NOT_A_RESULT } from "../output/repr.js";

interface DisplayOptions {
  displayId?: string;
  metadata?: Record<string, unknown>;
}

export interface InputSource {
  /** Asks the frontend of the current request for a line; rejects when it does not allow stdin. */
  requestInput(prompt: string, password: boolean): Promise<string>;
}

const toBase64 = (image: Uint8Array | string): string => (typeof image === "string" ? image : Buffer.from(image).toString("base64"));

/** The runtime of the globals declared in `typescript/kernel-globals.ts`: `display` and `input`. */
export function installKernelGlobals(iopub: IOPub, input: InputSource): void {
  const show = (bundle: MimeBundle, options: DisplayOptions = {}) => {
    const displayId = options.displayId ?? randomUUID();
    iopub.publish("display_data", { data: bundle, metadata: options.metadata ?? {}, transient: { display_id: displayId } });
    const handle = {
      displayId,
      update(value: unknown): void {
        iopub.publish("update_display_data", { data: mimeBundle(value), metadata: {}, transient: { display_id: displayId } });
      },
    };
    // `display.html(...)` ending a cell has shown its output already; the handle is no result.
    Object.defineProperty(handle, NOT_A_RESULT, { value: true });
    return handle;
  };
  const display = Object.assign((value: unknown, options?: DisplayOptions) => show(mimeBundle(value), options), {
    text: (text: string, options?: DisplayOptions) => show({ "text/plain": text }, options),
    html: (html: string, options?: DisplayOptions) => show({ "text/html": html, "text/plain": html }, options),
    markdown: (markdown: string, options?: DisplayOptions) => show({ "text/markdown": markdown, "text/plain": markdown }, options),
    latex: (latex: string, options?: DisplayOptions) => show({ "text/latex": latex, "text/plain": latex }, options),
    svg: (svg: string, options?: DisplayOptions) => show({ "image/svg+xml": svg, "text/plain": "<svg image>" }, options),
    json: (value: unknown, options?: DisplayOptions) => show({ "application/json": value, "text/plain": JSON.stringify(value) }, options),
    png: (image: Uint8Array | string, options?: DisplayOptions) => show({ "image/png": toBase64(image), "text/plain": "<PNG image>" }, options),
    jpeg: (image: Uint8Array | string, options?: DisplayOptions) => show({ "image/jpeg": toBase64(image), "text/plain": "<JPEG image>" }, options),
    vegaLite: (spec: Record<string, unknown>, options?: DisplayOptions) =>
      show({ "application/vnd.vegalite.v5+json": spec, "text/plain": `<Vega-Lite chart${typeof spec.title === "string" ? `: ${spec.title}` : ""}>` }, options),
    data: (bundle: MimeBundle, options?: DisplayOptions) => show(bundle, options),
    clear: (wait = false) => iopub.publish("clear_output", { wait }),
  });
  Object.assign(globalThis, {
    display,
    input: (prompt = "", options: { password?: boolean } = {}) => input.requestInput(prompt, options.password ?? false),
  });
}
