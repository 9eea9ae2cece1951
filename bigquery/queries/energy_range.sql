-- Hourly energy of skid @skid_id for grid points in [@start, @end): the figures of
-- the energy_hourly view, filtered on grid_ts so BigQuery prunes partitions.
WITH latest AS (
  SELECT
    *
  FROM energy_rows
  WHERE skid_id = @skid_id AND grid_ts >= @start AND grid_ts < @end
  QUALIFY ROW_NUMBER() OVER (PARTITION BY grid_ts ORDER BY revision DESC) = 1
)
SELECT
  skid_id,
  TIMESTAMP_TRUNC(grid_ts, HOUR) AS hour_start,
  COUNT(*) AS interval_count,
  COUNTIF(electric_kwh IS NOT NULL) AS intervals_with_energy,
  SUM(volume_bbl) AS volume_bbl,
  SUM(electric_kwh) AS electric_kwh,
  SUM(electric_kwh_no_dra) AS electric_kwh_no_dra,
  SAFE_DIVIDE(
    SUM(IF(volume_bbl IS NOT NULL, electric_kwh, NULL)),
    SUM(IF(electric_kwh IS NOT NULL, volume_bbl, NULL))
  ) AS kwh_per_bbl,
  SUM(energy_cost_usd) AS energy_cost_usd,
  SUM(energy_cost_usd_no_dra) AS energy_cost_usd_no_dra,
  SUM(dra_gal) AS dra_gal,
  SUM(dra_cost_usd) AS dra_cost_usd,
  SUM(energy_cost_usd_no_dra - energy_cost_usd) AS energy_saving_usd,
  SUM(net_benefit_usd) AS net_saving_usd
FROM latest
GROUP BY skid_id, hour_start
ORDER BY hour_start
