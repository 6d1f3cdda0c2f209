import type { Cluster } from './postgres';

/** Stops and deletes the cluster global-setup started, if any. */
export default function globalTeardown(): void {
  (globalThis as { __pgCluster?: Cluster }).__pgCluster?.stop();
}
