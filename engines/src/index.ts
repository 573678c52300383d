export { startEngine, type EngineOptions, type RunningEngine } from "./engine.js";
export { InterruptError } from "./interrupt.js";
export { RegistrationError, REGISTRATION_TIMEOUT_MS } from "./registration.js";
export { FREE_NAME_HINT } from "./task-errors.js";
