-- What the planner's rolling re-plan starts from, per skid in @skid_ids as of @as_of:
-- the latest known (not MISSING) line flow, DRA tank level, DRA injection rate and
-- pumps running, and the latest product and batch, each with the grid point it comes
-- from, looking back one day. Filled values (INTERPOLATED, CARRIED_FORWARD) count as
-- known; their age tells the planner how much to trust them.
WITH latest AS (
  SELECT
    *
  FROM spine_points
  WHERE
    skid_id IN UNNEST(@skid_ids)
    AND grid_ts <= @as_of
    AND grid_ts > TIMESTAMP_SUB(@as_of, INTERVAL 1 DAY)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY skid_id, grid_ts
    ORDER BY revision DESC, emitted_ts DESC
  ) = 1
),
known AS (
  SELECT
    skid_id,
    grid_ts,
    IF(line_flow_bph.quality != 'MISSING', line_flow_bph.last, NULL) AS line_flow_bph,
    IF(dra_tank_level_gal.quality != 'MISSING', dra_tank_level_gal.last, NULL)
      AS dra_tank_level_gal,
    IF(dra_injection_gph.quality != 'MISSING', dra_injection_gph.last, NULL)
      AS dra_injection_gph,
    IF(pumps_running.quality != 'MISSING', pumps_running.last, NULL) AS pumps_running,
    product_code,
    batch_id
  FROM latest
)
SELECT
  skid_id,
  grid_ts AS latest_grid_ts,
  LAST_VALUE(line_flow_bph IGNORE NULLS) OVER w AS line_flow_bph,
  LAST_VALUE(IF(line_flow_bph IS NULL, NULL, grid_ts) IGNORE NULLS) OVER w AS line_flow_ts,
  LAST_VALUE(dra_tank_level_gal IGNORE NULLS) OVER w AS dra_tank_level_gal,
  LAST_VALUE(IF(dra_tank_level_gal IS NULL, NULL, grid_ts) IGNORE NULLS) OVER w
    AS dra_tank_level_ts,
  LAST_VALUE(dra_injection_gph IGNORE NULLS) OVER w AS dra_injection_gph,
  LAST_VALUE(IF(dra_injection_gph IS NULL, NULL, grid_ts) IGNORE NULLS) OVER w
    AS dra_injection_ts,
  CAST(ROUND(LAST_VALUE(pumps_running IGNORE NULLS) OVER w) AS INT64) AS pumps_running,
  LAST_VALUE(IF(pumps_running IS NULL, NULL, grid_ts) IGNORE NULLS) OVER w AS pumps_running_ts,
  LAST_VALUE(product_code IGNORE NULLS) OVER w AS product_code,
  LAST_VALUE(IF(product_code IS NULL, NULL, grid_ts) IGNORE NULLS) OVER w AS product_ts,
  LAST_VALUE(batch_id IGNORE NULLS) OVER w AS batch_id
FROM known
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id ORDER BY grid_ts DESC) = 1
WINDOW w AS (
  PARTITION BY skid_id
  ORDER BY grid_ts
  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
)
ORDER BY skid_id
