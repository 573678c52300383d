/**
 * Content shapes of the Jupyter messaging protocol 5.3 that the kernel sends or reads, by msg_type.
 * The envelope is the cluster's (`@tsparallel/protocol`); these are only the kernel's contents.
 */

export type MimeBundle = Record<string, unknown>;

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type ReplyStatus<Ok> = ({ status: "ok" } & Ok) | ({ status: "error" } & ErrorContent) | { status: "aborted" };

export interface LanguageInfo {
  name: string;
  version: string;
  mimetype: string;
  file_extension: string;
  pygments_lexer: string;
  codemirror_mode: string | Record<string, unknown>;
  nbconvert_exporter?: string;
}

export interface KernelInfo {
  protocol_version: string;
  implementation: string;
  implementation_version: string;
  language_info: LanguageInfo;
  banner: string;
  help_links: { text: string; url: string }[];
  debugger: boolean;
}

export type HistoryEntry = [session: number, line: number, input: string | [string, string | null]];

export interface JupyterContents {
  // shell
  execute_request: {
    code: string;
    silent?: boolean;
    store_history?: boolean;
    user_expressions?: Record<string, string>;
    allow_stdin?: boolean;
    stop_on_error?: boolean;
  };
  execute_reply: ReplyStatus<{ execution_count: number; payload: Record<string, unknown>[]; user_expressions: Record<string, unknown> }> & {
    execution_count: number;
  };
  inspect_request: { code: string; cursor_pos: number; detail_level?: 0 | 1 };
  inspect_reply: ReplyStatus<{ found: boolean; data: MimeBundle; metadata: Record<string, unknown> }>;
  complete_request: { code: string; cursor_pos: number };
  complete_reply: ReplyStatus<{ matches: string[]; cursor_start: number; cursor_end: number; metadata: Record<string, unknown> }>;
  history_request: {
    output: boolean;
    raw: boolean;
    hist_access_type: "range" | "tail" | "search";
    session?: number;
    start?: number;
    stop?: number;
    n?: number;
    pattern?: string;
    unique?: boolean;
  };
  history_reply: ReplyStatus<{ history: HistoryEntry[] }>;
  is_complete_request: { code: string };
  is_complete_reply: { status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string };
  connect_request: Record<string, never>;
  connect_reply: { status: "ok"; shell_port: number; iopub_port: number; stdin_port: number; hb_port: number; control_port: number };
  comm_info_request: { target_name?: string };
  comm_info_reply: ReplyStatus<{ comms: Record<string, { target_name: string }> }>;
  kernel_info_request: Record<string, never>;
  kernel_info_reply: ReplyStatus<KernelInfo>;
  // control (shutdown also on shell, as older clients send it there)
  shutdown_request: { restart: boolean };
  shutdown_reply: ReplyStatus<{ restart: boolean }>;
  interrupt_request: Record<string, never>;
  interrupt_reply: ReplyStatus<{}>;
  // comms (any direction)
  comm_open: { comm_id: string; target_name: string; data: Record<string, unknown>; target_module?: string };
  comm_msg: { comm_id: string; data: Record<string, unknown> };
  comm_close: { comm_id: string; data: Record<string, unknown> };
  // iopub
  status: { execution_state: "busy" | "idle" | "starting" };
  stream: { name: "stdout" | "stderr"; text: string };
  display_data: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> };
  update_display_data: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id: string } };
  execute_input: { code: string; execution_count: number };
  execute_result: { execution_count: number; data: MimeBundle; metadata: Record<string, unknown> };
  error: ErrorContent;
  clear_output: { wait: boolean };
  // stdin
  input_request: { prompt: string; password: boolean };
  input_reply: { value: string };
}

export type JupyterMessageType = keyof JupyterContents;
