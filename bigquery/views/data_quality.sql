-- Data quality per skid, UTC day and signal: the share of spine points that were
-- measured (GOOD), filled (INTERPOLATED, CARRIED_FORWARD) or absent (MISSING), from
-- the latest revision of each spine row.
WITH latest AS (
  SELECT
    *
  FROM spine_points
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY skid_id, grid_ts
    ORDER BY revision DESC, emitted_ts DESC
  ) = 1
),
points AS (
  SELECT
    l.skid_id,
    DATE(l.grid_ts) AS day_utc,
    q.signal,
    q.quality
  FROM latest AS l
  CROSS JOIN UNNEST([
    STRUCT('line_flow_bph' AS signal, l.line_flow_bph.quality AS quality),
    STRUCT('dra_injection_gph' AS signal, l.dra_injection_gph.quality AS quality),
    STRUCT('dra_tank_level_gal' AS signal, l.dra_tank_level_gal.quality AS quality),
    STRUCT('suction_psig' AS signal, l.suction_psig.quality AS quality),
    STRUCT('discharge_psig' AS signal, l.discharge_psig.quality AS quality),
    STRUCT('downstream_psig' AS signal, l.downstream_psig.quality AS quality),
    STRUCT('temperature_degf' AS signal, l.temperature_degf.quality AS quality),
    STRUCT('density_kg_m3' AS signal, l.density_kg_m3.quality AS quality),
    STRUCT('api_gravity_deg' AS signal, l.api_gravity_deg.quality AS quality),
    STRUCT('pump_power_kw' AS signal, l.pump_power_kw.quality AS quality),
    STRUCT('pumps_running' AS signal, l.pumps_running.quality AS quality),
    STRUCT('injection_pump_running' AS signal, l.injection_pump_running.quality AS quality)
  ]) AS q
)
SELECT
  skid_id,
  day_utc,
  signal,
  COUNT(*) AS point_count,
  SAFE_DIVIDE(COUNTIF(quality = 'GOOD'), COUNT(*)) AS good_share,
  SAFE_DIVIDE(COUNTIF(quality = 'INTERPOLATED'), COUNT(*)) AS interpolated_share,
  SAFE_DIVIDE(COUNTIF(quality = 'CARRIED_FORWARD'), COUNT(*)) AS carried_forward_share,
  SAFE_DIVIDE(COUNTIF(quality = 'MISSING'), COUNT(*)) AS missing_share
FROM points
GROUP BY skid_id, day_utc, signal
