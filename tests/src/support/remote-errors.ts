import assert from "node:assert/strict";
import { CompositeError, RemoteError } from "tsparallel";

/** For assert.rejects/throws: a RemoteError with this remote exception name (and engine, if given). */
export function remoteError(ename: string, engineId?: number): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof RemoteError, `expected a RemoteError (${ename}), got ${describe(err)}`);
    assert.equal(err.ename, ename, `remote exception name (message: ${err.message})`);
    if (engineId !== undefined) assert.equal(err.engineId, engineId, "engine of the remote error");
    return true;
  };
}

/** For assert.rejects: a CompositeError of `count` RemoteErrors, all with this remote exception name. */
export function compositeOf(ename: string, count: number): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof CompositeError, `expected a CompositeError, got ${describe(err)}`);
    assert.equal(err.errors.length, count, `failed tasks in: ${err.message}`);
    for (const inner of err.errors) remoteError(ename)(inner);
    return true;
  };
}

/** For assert.rejects/throws: an instance of `type` (checked by class, with a readable failure). */
export function instanceOf(type: abstract new (...args: never[]) => Error, message?: RegExp): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${describe(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
