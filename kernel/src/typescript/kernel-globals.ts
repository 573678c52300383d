/**
 * Types of the globals the kernel gives every cell. The runtime side is `runtime/kernel-globals.ts`;
 * this text is a virtual declaration file of the type-check program.
 */
export const KERNEL_GLOBALS_DTS = `
declare global {
  /** A MIME bundle: MIME type -> data (strings, or JSON for application/json). */
  type MimeBundle = Record<string, unknown>;
  interface DisplayHandle {
    readonly displayId: string;
    /** Replaces what this display shows, in place. */
    update(value: unknown): void;
  }
  interface DisplayOptions {
    /** Give an id to update the output later. */
    displayId?: string;
    metadata?: Record<string, unknown>;
  }
  interface Display {
    /** Shows a value below the cell, as the cell's result would be shown. */
    (value: unknown, options?: DisplayOptions): DisplayHandle;
    text(text: string, options?: DisplayOptions): DisplayHandle;
    html(html: string, options?: DisplayOptions): DisplayHandle;
    markdown(markdown: string, options?: DisplayOptions): DisplayHandle;
    latex(latex: string, options?: DisplayOptions): DisplayHandle;
    svg(svg: string, options?: DisplayOptions): DisplayHandle;
    json(value: unknown, options?: DisplayOptions): DisplayHandle;
    /** PNG bytes, or their base64. */
    png(image: Uint8Array | string, options?: DisplayOptions): DisplayHandle;
    jpeg(image: Uint8Array | string, options?: DisplayOptions): DisplayHandle;
    /** A Vega-Lite (v5) chart, drawn by JupyterLab's built-in renderer. */
    vegaLite(spec: Record<string, unknown>, options?: DisplayOptions): DisplayHandle;
    /** Any MIME bundle. */
    data(bundle: MimeBundle, options?: DisplayOptions): DisplayHandle;
    /** Clears the cell's output; with wait, only when new output arrives. */
    clear(wait?: boolean): void;
  }
  const display: Display;
  /** Asks the notebook user for a line of text (the frontend must allow stdin). */
  function input(prompt?: string, options?: { password?: boolean }): Promise<string>;
}
export {};
`;
