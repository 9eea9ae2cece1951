-- Plan against what happened, per skid per UTC hour: the hour's row of the most
-- recent plan that covers it (a rolling re-plan supersedes earlier plans for the
-- hours still ahead) beside the hourly aggregate of the latest revision of each
-- energy row. Realised flow is the hour's volume (bbl in one hour = bbl/h);
-- realised ppm is volume-weighted, DRA gallons over gallons of product. Hours with
-- a plan and no data yet have NULL actuals; deltas are actual minus plan.
WITH summaries AS (
  SELECT
    plan_id AS summary_plan_id,
    skid_id AS summary_skid_id,
    created_ts AS plan_created_ts
  FROM plan_summaries
),
plan AS (
  SELECT
    *
  FROM plan_rows
  JOIN summaries
    ON plan_id = summary_plan_id AND skid_id = summary_skid_id
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY skid_id, hour_start
    ORDER BY plan_created_ts DESC, plan_id DESC
  ) = 1
),
latest AS (
  SELECT
    *
  FROM energy_rows
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id, grid_ts ORDER BY revision DESC) = 1
),
actual AS (
  SELECT
    skid_id,
    TIMESTAMP_TRUNC(grid_ts, HOUR) AS hour_start,
    SUM(volume_bbl) AS volume_bbl,
    SUM(dra_gal) AS dra_gal,
    SUM(electric_kwh) AS electric_kwh,
    SUM(energy_cost_usd) AS energy_cost_usd,
    SUM(dra_cost_usd) AS dra_cost_usd
  FROM latest
  GROUP BY skid_id, hour_start
)
SELECT
  plan.skid_id,
  plan.hour_start,
  plan.plan_id,
  plan.plan_created_ts,
  plan.product_code AS planned_product_code,
  plan.line_flow_bph AS planned_flow_bph,
  actual.volume_bbl AS actual_flow_bph,
  plan.dra_ppm AS planned_ppm,
  SAFE_DIVIDE(actual.dra_gal, actual.volume_bbl * 42.0) * 1000000.0 AS actual_ppm,
  plan.electric_kwh AS planned_kwh,
  actual.electric_kwh AS actual_kwh,
  plan.energy_cost_usd + plan.dra_cost_usd AS planned_cost_usd,
  actual.energy_cost_usd + actual.dra_cost_usd AS actual_cost_usd,
  actual.volume_bbl - plan.line_flow_bph AS flow_delta_bph,
  actual.electric_kwh - plan.electric_kwh AS kwh_delta,
  (actual.energy_cost_usd + actual.dra_cost_usd) - (plan.energy_cost_usd + plan.dra_cost_usd)
    AS cost_delta_usd
FROM plan
LEFT JOIN actual
  ON plan.skid_id = actual.skid_id AND plan.hour_start = actual.hour_start
