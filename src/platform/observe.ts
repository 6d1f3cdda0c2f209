import type { PlatformMetrics } from '../metrics/metrics';
import { platformOutcome } from '../metrics/outcomes';
import type { PlatformEndpoint } from '../metrics/outcomes';
import { BadToken } from './verify/handlers';

/** Told of one answer: its endpoint, the error it ended with (undefined: it succeeded) and its duration in seconds. */
export type PlatformObserver = (endpoint: PlatformEndpoint, error: unknown, seconds: number) => void;

/** What the metrics are told of each answer: its endpoint, its outcome (from the error it ended with) and its duration. */
export function observer(metrics: PlatformMetrics): PlatformObserver {
  return (endpoint, err, seconds) => {
    const outcome = platformOutcome(err, err instanceof BadToken ? err.ended : undefined);
    metrics.observe(endpoint, outcome, seconds);
    if (outcome === 'throttled') metrics.throttled();
    if (endpoint === 'token' && outcome === 'ok') metrics.tokenIssued();
  };
}
