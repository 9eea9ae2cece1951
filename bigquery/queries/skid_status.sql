-- Status of each skid in @skid_ids as of @as_of: its newest spine row (latest revision)
-- within the day before @as_of, with that grid point's energy row. A silent skid shows
-- its MISSING rows; a skid with no row in the day is absent. The one-day window keeps
-- BigQuery to two daily partitions.
WITH spine AS (
  SELECT
    *
  FROM spine_points
  WHERE
    skid_id IN UNNEST(@skid_ids)
    AND grid_ts <= @as_of
    AND grid_ts > TIMESTAMP_SUB(@as_of, INTERVAL 1 DAY)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY skid_id
    ORDER BY grid_ts DESC, revision DESC, emitted_ts DESC
  ) = 1
),
energy AS (
  SELECT
    *
  FROM energy_rows
  WHERE
    skid_id IN UNNEST(@skid_ids)
    AND grid_ts <= @as_of
    AND grid_ts > TIMESTAMP_SUB(@as_of, INTERVAL 1 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id, grid_ts ORDER BY revision DESC) = 1
)
SELECT
  s.skid_id,
  s.grid_ts,
  TIMESTAMP_DIFF(@as_of, s.grid_ts, SECOND) AS age_s,
  s.revision AS spine_revision,
  s.product_code,
  s.batch_id,
  s.reading_count,
  s.line_flow_bph.last AS line_flow_bph,
  s.line_flow_bph.quality AS line_flow_quality,
  s.dra_injection_gph.last AS dra_injection_gph,
  s.dra_injection_gph.quality AS dra_injection_quality,
  s.dra_tank_level_gal.last AS dra_tank_level_gal,
  s.suction_psig.last AS suction_psig,
  s.discharge_psig.last AS discharge_psig,
  s.discharge_psig.quality AS discharge_quality,
  s.downstream_psig.last AS downstream_psig,
  s.temperature_degf.last AS temperature_degf,
  s.pump_power_kw.last AS pump_power_kw,
  s.pumps_running.last AS pumps_running,
  s.injection_pump_running.last AS injection_pump_running,
  e.revision AS energy_revision,
  e.dra_ppm,
  e.dr_observed_pct,
  e.dr_expected_pct,
  e.dra_effectiveness,
  e.electric_kw,
  e.electric_kw_no_dra,
  e.power_source,
  e.kwh_per_bbl,
  e.tariff_usd_per_kwh,
  e.energy_cost_usd,
  e.energy_cost_usd_no_dra,
  e.dra_cost_usd,
  e.net_benefit_usd
FROM spine AS s
LEFT JOIN energy AS e
  ON e.skid_id = s.skid_id AND e.grid_ts = s.grid_ts
ORDER BY s.skid_id
