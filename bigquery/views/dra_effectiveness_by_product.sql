-- How well DRA works, per product and UTC day: observed vs expected drag reduction
-- over the intervals where effectiveness is known (DRA injected, inputs present).
-- dra_effectiveness_mean averages the per-interval ratios; dra_effectiveness_pooled
-- is the ratio of the mean DRs, less swayed by intervals with a tiny expected DR.
WITH latest AS (
  SELECT
    *
  FROM energy_rows
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id, grid_ts ORDER BY revision DESC) = 1
)
SELECT
  product_code,
  DATE(grid_ts) AS day_utc,
  COUNT(*) AS interval_count,
  COUNT(DISTINCT skid_id) AS skid_count,
  AVG(dra_ppm) AS dra_ppm_mean,
  AVG(dr_observed_pct) AS dr_observed_pct_mean,
  AVG(dr_expected_pct) AS dr_expected_pct_mean,
  AVG(dra_effectiveness) AS dra_effectiveness_mean,
  MIN(dra_effectiveness) AS dra_effectiveness_min,
  SAFE_DIVIDE(AVG(dr_observed_pct), AVG(dr_expected_pct)) AS dra_effectiveness_pooled
FROM latest
WHERE product_code IS NOT NULL AND dra_effectiveness IS NOT NULL
GROUP BY product_code, day_utc
