-- Failure throttles' fixed windows, in the database so that every replica counts into the same window
-- (issue 12). key names the throttle and what it counts (e.g. 'sign-in:ip:203.0.113.9'); count is the
-- attempts counted since window_start. src/http/throttle-repo.ts is the one module that writes here.
CREATE TABLE throttle_windows (
  key           TEXT PRIMARY KEY,
  window_start  {{int}} NOT NULL,
  count         {{int}} NOT NULL
) {{strict}};
CREATE INDEX throttle_windows_start ON throttle_windows(window_start);
