/**
 * The data plane's calls return a value when the work finished synchronously (a synchronous schema
 * and model, most of them) and a promise otherwise. Every promise and `await` on the request path
 * costs an allocation and a microtask turn, and on a busy 2-core machine each microsecond of
 * JavaScript costs about two more in the kernel (docs/performance.md): a synchronous model answers
 * with no promise at all. Errors follow the same rule: thrown when synchronous, a rejection when not.
 */
export type MaybePromise<T> = T | Promise<T>

/** A promise for what `call` returns or throws: for callers that want one either way. */
export function toPromise<T>(call: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(call())
  } catch (err) {
    return Promise.reject(err)
  }
}
