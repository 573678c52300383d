import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel } from '@jupyterlab/services';
import { Signal, type ISignal } from '@lumino/signaling';
import { parseKernelMessage, STATUS_COMM_TARGET, type KernelMessage, type PanelMessage } from './comm-messages.js';

/**
 * - `no-kernel`: the notebook has no running kernel.
 * - `connecting`: the comm is opening (or reopening after a kernel restart); nothing heard yet.
 * - `open`: the kernel answers.
 * - `refused`: the kernel closed the comm before saying anything: it is not a tsparallel kernel.
 */
export type ChannelState = 'no-kernel' | 'connecting' | 'open' | 'refused';

const RESTARTING: Kernel.Status[] = ['restarting', 'autorestarting', 'starting'];

/**
 * The `tsparallel.status` comm of one notebook's kernel, kept open across kernel restarts and kernel
 * changes. It only moves messages; what they mean is the model's business.
 */
export class KernelStatusChannel {
  private readonly _stateChanged = new Signal<this, ChannelState>(this);
  private readonly _received = new Signal<this, KernelMessage>(this);
  private _state: ChannelState = 'no-kernel';
  private _comm: Kernel.IComm | null = null;
  private _heardFromKernel = false;
  private _disposed = false;

  constructor(private readonly _session: ISessionContext) {
    _session.kernelChanged.connect(this._onKernelChanged, this);
    _session.statusChanged.connect(this._onStatusChanged, this);
    void _session.ready.then(() => this._open());
  }

  get state(): ChannelState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ChannelState> {
    return this._stateChanged;
  }

  get received(): ISignal<this, KernelMessage> {
    return this._received;
  }

  /** The kernel's display name, for messages to the user. */
  get kernelDisplayName(): string {
    return this._session.kernelDisplayName;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** False when there is no open comm to send on (the caller reports that as the action's failure). */
  send(message: PanelMessage): boolean {
    if (!this._comm || this._comm.isDisposed || this._state !== 'open') return false;
    this._comm.send({ ...message });
    return true;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._closeComm();
    Signal.clearData(this);
  }

  private _onKernelChanged(): void {
    this._closeComm();
    this._open();
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'dead') {
      this._closeComm();
      this._setState('no-kernel');
    } else if (RESTARTING.includes(status)) {
      // A restart disposes every comm of the kernel; open a new one when it is back.
      this._closeComm();
      this._setState('connecting');
    } else if ((status === 'idle' || status === 'busy') && !this._comm && this._state !== 'refused') {
      this._open();
    }
  }

  private _open(): void {
    if (this._disposed || this._comm) return;
    const kernel = this._session.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      this._setState('no-kernel');
      return;
    }
    this._heardFromKernel = false;
    this._setState('connecting');
    let comm: Kernel.IComm;
    try {
      comm = kernel.createComm(STATUS_COMM_TARGET);
    } catch (err) {
      console.warn('tsparallel: cannot open the status comm', err);
      this._setState('refused');
      return;
    }
    this._comm = comm;
    comm.onMsg = msg => {
      const message = parseKernelMessage(msg.content.data);
      if (!message) {
        console.warn('tsparallel: dropped a malformed status message', msg.content.data);
        return;
      }
      this._heardFromKernel = true;
      this._setState('open');
      this._received.emit(message);
    };
    comm.onClose = () => {
      if (this._comm !== comm) return;
      this._comm = null;
      // Closed before a word: the kernel has no such comm target, so it is not a tsparallel kernel.
      this._setState(this._heardFromKernel ? 'connecting' : 'refused');
    };
    try {
      comm.open({});
    } catch (err) {
      console.warn('tsparallel: cannot open the status comm', err);
      this._comm = null;
      this._setState('refused');
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel may already be gone; nothing is left to close then.
      }
    }
  }

  private _setState(state: ChannelState): void {
    if (state === this._state) return;
    this._state = state;
    this._stateChanged.emit(state);
  }
}
