import type * as zmq from "zeromq";
import { HandshakeError } from "./errors.js";

/**
 * Handshakes cut short (closed or reset by the controller), with none done, after which a connect gives
 * up. That is what a mechanism mismatch looks like, but also what a controller short of file
 * descriptors (a connection flood) does now and then: so it takes several, which ZeroMQ's reconnects
 * bring in about a second.
 */
const CUT_HANDSHAKES_BEFORE_GIVING_UP = 8;
const TRANSPORT_ERRORS = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/**
 * Watches a socket's ZMTP handshakes with the controller. ZeroMQ retries a failed handshake forever
 * and tells only the socket's monitor, so without this a client with the wrong keys (or none, for a
 * CURVE cluster) would wait out its timeout and hear "is it running?". Until one handshake has
 * succeeded, a failed one is reported through `onFailure` with what it means.
 */
export class HandshakeWatch {
  #succeeded = false;
  #closesInHandshake = 0;
  #connected = false;
  #reported = false;

  constructor(
    private readonly socket: zmq.Socket,
    private readonly address: string,
    private readonly curve: boolean,
    private readonly onFailure: (err: HandshakeError) => void,
  ) {
    const events = socket.events;
    events.on("handshake", () => {
      this.#succeeded = true;
    });
    events.on("connect", () => {
      this.#connected = true;
    });
    events.on("disconnect", () => {
      if (!this.#connected || this.#succeeded) return;
      this.#connected = false;
      if (++this.#closesInHandshake >= CUT_HANDSHAKES_BEFORE_GIVING_UP) {
        this.#fail(this.curve
          ? "the controller closed the connection during the CURVE handshake: the connection info's curve_keys are not this controller's (a stale connection file?)"
          : "the controller closed the connection during the handshake: it probably requires CURVE (an encrypted cluster) and this connection info holds no CURVE keys; use the cluster's current connection file");
      }
    });
    events.on("handshake:error:protocol", ({ error }) => this.#fail(this.#explain(error)));
    // The controller's ZAP handler refuses a wrong key and, on any socket, a peer past its connection caps.
    events.on("handshake:error:auth", ({ error }) => {
      const cap = "the controller holds as many connections from this address (or on this port) as its connection caps allow (tspcontroller --max-connections-per-address, --max-connections-per-port)";
      this.#fail(this.curve
        ? `the controller refused this client's CURVE key (${error.status ?? "?"}): the connection info is not this cluster's (a stale connection file?), or ${cap}`
        : `the controller refused the connection (${error.status ?? "?"}): ${cap}`);
    });
    events.on("handshake:error:other", ({ error }) => {
      const transport = TRANSPORT_ERRORS.has(String((error as { code?: unknown }).code));
      if (!transport || ++this.#closesInHandshake >= CUT_HANDSHAKES_BEFORE_GIVING_UP) this.#fail(this.#explain(error));
    });
  }

  get succeeded(): boolean {
    return this.#succeeded;
  }

  /** A failed handshake means, almost always, keys that do not match how the controller runs. */
  #explain(error: Error & { code?: unknown }): string {
    const detail = `${error.message}${error.code ? `, ${String(error.code)}` : ""}`;
    return this.curve
      ? `the CURVE handshake failed (${detail}): does the controller run with CURVE, and is the connection file current?`
      : `the handshake failed (${detail}): the controller requires CURVE (an encrypted cluster) and this connection info holds no CURVE keys; use the cluster's current connection file`;
  }

  #fail(why: string): void {
    if (this.#succeeded || this.#reported || this.socket.closed) return;
    this.#reported = true;
    this.onFailure(new HandshakeError(`cannot connect to the controller at ${this.address}: ${why}`));
  }
}
