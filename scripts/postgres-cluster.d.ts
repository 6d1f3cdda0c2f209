// Types of postgres-cluster.js, for the tests.
export interface ClusterAt {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/NAME */
  url(database: string): string;
  /** Runs one SQL command with psql, synchronously; returns its unaligned output. */
  psql(command: string, database?: string): string;
}
export interface Cluster extends ClusterAt {
  dataDir: string;
  stop(): void;
}
export function postgresBinDir(root?: string): string;
export function clusterAt(port: number, bin?: string): ClusterAt;
export function startCluster(options?: { cpus?: string | number }): Promise<Cluster>;
