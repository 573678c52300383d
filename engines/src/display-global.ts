import { inspect } from "node:util";

/** A MIME type -> data map, as Jupyter's display_data carries. */
export type MimeBundle = Record<string, unknown>;
type Publish = (bundle: MimeBundle) => void;

/** Objects show themselves richly by defining this method (the kernel's convention too). */
const MIME_BUNDLE = Symbol.for("jupyter.mimebundle");

function bundleOf(value: unknown): MimeBundle {
  const plain = inspect(value, { depth: 4, breakLength: 100, maxArrayLength: 100 });
  const custom = value !== null && (typeof value === "object" || typeof value === "function") ? (value as Record<symbol, unknown>)[MIME_BUNDLE] : undefined;
  if (typeof custom === "function") {
    const bundle = (custom as () => unknown).call(value);
    if (bundle && typeof bundle === "object") return { "text/plain": plain, ...(bundle as MimeBundle) };
  }
  return { "text/plain": plain };
}

const toBase64 = (image: Uint8Array | string): string => (typeof image === "string" ? image : Buffer.from(image).toString("base64"));

let publish: Publish | null = null;

function show(bundle: MimeBundle): void {
  if (!publish) throw new Error("display() works inside a task on an engine");
  publish(bundle);
}

/** `display(...)` and `display.html(...)` on engines, as in the kernel: the output lands in the notebook cell that ran the task. */
const display = Object.assign((value: unknown): void => show(bundleOf(value)), {
  text: (text: string) => show({ "text/plain": text }),
  html: (html: string) => show({ "text/html": html, "text/plain": html }),
  markdown: (markdown: string) => show({ "text/markdown": markdown, "text/plain": markdown }),
  latex: (latex: string) => show({ "text/latex": latex, "text/plain": latex }),
  svg: (svg: string) => show({ "image/svg+xml": svg, "text/plain": "<svg image>" }),
  json: (value: unknown) => show({ "application/json": value, "text/plain": JSON.stringify(value) }),
  png: (image: Uint8Array | string) => show({ "image/png": toBase64(image), "text/plain": "<PNG image>" }),
  jpeg: (image: Uint8Array | string) => show({ "image/jpeg": toBase64(image), "text/plain": "<JPEG image>" }),
  vegaLite: (spec: Record<string, unknown>) => show({ "application/vnd.vegalite.v5+json": spec, "text/plain": "<Vega-Lite chart>" }),
  data: (bundle: MimeBundle) => show(bundle),
});

/**
 * Makes `display` a global of the engine, publishing through `target`. The global is not
 * configurable, so clearing the namespace keeps it; a later session only changes the target.
 */
export function installDisplay(target: Publish): void {
  publish = target;
  if ((globalThis as Record<string, unknown>).display === display) return;
  Object.defineProperty(globalThis, "display", { value: display, writable: true, enumerable: false, configurable: false });
}
