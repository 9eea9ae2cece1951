-- Energy rows, latest revision of each (skid, grid point) only.
SELECT
  *
FROM energy_rows
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id, grid_ts ORDER BY revision DESC) = 1
